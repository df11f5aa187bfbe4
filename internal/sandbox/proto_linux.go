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
	opTerminate = "terminate" // SIGTERM everything; the agent exits when nothing is left
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

// sendRequest encodes r and sends it, through a memfd when large.
func sendRequest(c *net.UnixConn, r *request, fds []int) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
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
	hdr, _ := json.Marshal(&request{ID: r.ID, Large: true})
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
	var fds []int
	if oobn > 0 {
		msgs, perr := unix.ParseSocketControlMessage(oob[:oobn])
		if perr == nil {
			for _, m := range msgs {
				if rights, err := unix.ParseUnixRights(&m); err == nil {
					fds = append(fds, rights...)
				}
			}
		}
	}
	return buf[:n], fds, nil
}

// decodeRequest parses a request packet, reading a memfd body when large.
func decodeRequest(b []byte, fds []int) (*request, []int, error) {
	var r request
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fds, err
	}
	if !r.Large {
		return &r, fds, nil
	}
	if len(fds) == 0 {
		return nil, fds, errors.New("large request without memfd")
	}
	f := os.NewFile(uintptr(fds[0]), "memfd")
	fds = fds[1:]
	defer f.Close()
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fds, err
	}
	body, err := io.ReadAll(io.LimitReader(f, 64<<20))
	if err != nil {
		return nil, fds, err
	}
	id := r.ID
	r = request{}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fds, err
	}
	r.ID = id
	return &r, fds, nil
}

func closeFDs(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}
