//go:build linux

package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// The control channel between the server and the agent is one
// SOCK_SEQPACKET unix socket pair. Every message is one JSON document in
// one packet, with file descriptors attached through SCM_RIGHTS. Requests
// carry an id; the agent answers with messages carrying the same id.
// Requests too large for one packet travel in a memfd attached as the
// first descriptor of a packet that only says {"large":true}.

// Request operations.
const (
	opExec      = "exec"      // fds: [stdout, stderr] or [stdin, stdout, stderr]
	opPTY       = "pty"       // answered by evStarted with the master fd attached
	opSignal    = "signal"    // signal pid's group when pid leads one, else pid
	opKillGroup = "killgroup" // kill(-pid, sig); missing group is not an error
	opTerminate = "terminate" // SIGTERM everything; the agent exits when nothing is left; no answer
	opPing      = "ping"      // answered by evOK: the liveness check
	// opHello is not sent: it names the pending call (id 0) that waits
	// for the agent's evHello at start-up.
	opHello = "hello"
)

// Agent message kinds.
const (
	evHello   = "hello"   // id 0, sent once at start-up, PID = agent pid
	evStarted = "started" // PID = pid of the new process
	evExit    = "exit"    // Code = exit code (128+sig when signalled)
	evOK      = "ok"      // a signal was delivered
	evError   = "error"   // Msg says why; NotFound for an unknown pid
)

type request struct {
	ID    uint64   `json:"id"`
	Op    string   `json:"op,omitempty"`
	Large bool     `json:"large,omitempty"`
	Path  string   `json:"path,omitempty"`
	Args  []string `json:"args,omitempty"` // full argv, Args[0] = argv0
	Env   []string `json:"env,omitempty"`
	Cwd   string   `json:"cwd,omitempty"`
	Stdin bool     `json:"stdin,omitempty"`
	Cols  int      `json:"cols,omitempty"`
	Rows  int      `json:"rows,omitempty"`
	PID   int      `json:"pid,omitempty"`
	Sig   int      `json:"sig,omitempty"`
	Port  int      `json:"port,omitempty"` // opDial (dial_linux.go)
}

type message struct {
	ID       uint64 `json:"id"`
	Ev       string `json:"ev"`
	PID      int    `json:"pid,omitempty"`
	Code     int    `json:"code,omitempty"`
	Msg      string `json:"msg,omitempty"`
	NotFound bool   `json:"not_found,omitempty"`

	fds []int // received descriptors (not on the wire)
}

const (
	maxPacket = 64 << 10 // largest packet either side reads
	maxInline = 48 << 10 // larger requests go through a memfd
	maxFDs    = 4
)

var oobSpace = unix.CmsgSpace(maxFDs * 4)

// sendPacket writes one packet with optional descriptors.
func sendPacket(c *net.UnixConn, b []byte, fds []int) error {
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	_, _, err := c.WriteMsgUnix(b, oob, nil)
	return err
}

// encodeRequest gives r the id and encodes it; ErrRequestTooLarge when
// the encoding exceeds MaxRequestSize.
func encodeRequest(r *request, id uint64) ([]byte, error) {
	r.ID = id
	b, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	if len(b) > MaxRequestSize {
		return nil, fmt.Errorf("%w: %d bytes of command, arguments and environment, at most %d", ErrRequestTooLarge, len(b), MaxRequestSize)
	}
	return b, nil
}

// sendEncoded sends an encoded request, through a memfd when large.
func sendEncoded(c *net.UnixConn, id uint64, b []byte, fds []int) error {
	if len(b) <= maxInline {
		return sendPacket(c, b, fds)
	}
	mfd, err := unix.MemfdCreate("sandbox-request", unix.MFD_CLOEXEC)
	if err != nil {
		return fmt.Errorf("memfd: %w", err)
	}
	f := os.NewFile(uintptr(mfd), "memfd")
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		return err
	}
	hdr, _ := json.Marshal(&request{ID: id, Large: true})
	return sendPacket(c, hdr, append([]int{mfd}, fds...))
}

// readPacket reads one packet and the descriptors attached to it. The
// descriptors are close-on-exec (MSG_CMSG_CLOEXEC).
func readPacket(c *net.UnixConn, buf, oob []byte) ([]byte, []int, error) {
	n, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
	if err != nil {
		return nil, nil, err
	}
	if n == 0 && oobn == 0 {
		return nil, nil, io.EOF
	}
	fds := parseRights(oob[:oobn])
	return buf[:n], fds, nil
}

// decodeRequest parses a request packet, reading a memfd body when large.
// On error the returned request, when not nil, carries the id to answer.
func decodeRequest(b []byte, fds []int) (*request, []int, error) {
	var r request
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fds, err
	}
	if !r.Large {
		return &r, fds, nil
	}
	if len(fds) == 0 {
		return &request{ID: r.ID}, fds, errors.New("large request without memfd")
	}
	f := os.NewFile(uintptr(fds[0]), "memfd")
	fds = fds[1:]
	defer f.Close()
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return &request{ID: r.ID}, fds, err
	}
	body, err := io.ReadAll(io.LimitReader(f, MaxRequestSize+1))
	if err != nil {
		return &request{ID: r.ID}, fds, err
	}
	if len(body) > MaxRequestSize {
		return &request{ID: r.ID}, fds, fmt.Errorf("request larger than %d bytes", MaxRequestSize)
	}
	id := r.ID
	r = request{}
	if err := json.Unmarshal(body, &r); err != nil {
		return &request{ID: id}, fds, err
	}
	r.ID = id
	return &r, fds, nil
}

func closeFDs(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}
