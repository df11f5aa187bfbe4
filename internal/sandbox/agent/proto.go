//go:build linux

package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
	OpExec      = "exec"      // fds: [stdout, stderr] or [stdin, stdout, stderr]
	OpPTY       = "pty"       // answered by EvStarted with the master fd attached
	OpSignal    = "signal"    // signal pid's group when pid leads one, else pid
	OpKillGroup = "killgroup" // kill(-pid, sig); missing group is not an error
	OpTerminate = "terminate" // SIGTERM everything; the agent exits when nothing is left; no answer
	OpPing      = "ping"      // answered by EvOK: the liveness check
	// OpDial connects to 127.0.0.1:Port inside the sandbox's network
	// namespace: answered EvDialed with the connected socket attached,
	// or EvError with Code set to the errno.
	OpDial = "dial"
	// OpHello is not sent: it names the pending call (id 0) that waits
	// for the agent's EvHello at start-up.
	OpHello = "hello"
)

// Agent message kinds.
const (
	EvHello   = "hello"   // id 0, sent once at start-up, PID = agent pid
	EvStarted = "started" // PID = pid of the new process
	EvExit    = "exit"    // Code = exit code (128+sig when signalled)
	EvOK      = "ok"      // a signal was delivered
	EvError   = "error"   // Msg says why; NotFound for an unknown pid
	EvDialed  = "dialed"  // the connected socket of an OpDial is attached
)

// Request is one request from the server to the agent.
type Request struct {
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
	Port  int      `json:"port,omitempty"` // OpDial
}

// Message is one message from the agent to the server.
type Message struct {
	ID       uint64 `json:"id"`
	Ev       string `json:"ev"`
	PID      int    `json:"pid,omitempty"`
	Code     int    `json:"code,omitempty"`
	Msg      string `json:"msg,omitempty"`
	NotFound bool   `json:"not_found,omitempty"`
}

// OOBSpace is the control-message buffer size for MaxFDs descriptors.
var OOBSpace = unix.CmsgSpace(MaxFDs * 4)

// ParseRights returns the descriptors of the SCM_RIGHTS messages in oob.
func ParseRights(oob []byte) []int {
	if len(oob) == 0 {
		return nil
	}
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	var fds []int
	for _, m := range msgs {
		if rights, err := unix.ParseUnixRights(&m); err == nil {
			fds = append(fds, rights...)
		}
	}
	return fds
}

// DecodeRequest parses a request packet, reading a memfd body when large.
// On error the returned request, when not nil, carries the id to answer.
func DecodeRequest(b []byte, fds []int) (*Request, []int, error) {
	var r Request
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fds, err
	}
	if !r.Large {
		return &r, fds, nil
	}
	if len(fds) == 0 {
		return &Request{ID: r.ID}, fds, errors.New("large request without memfd")
	}
	f := os.NewFile(uintptr(fds[0]), "memfd")
	fds = fds[1:]
	defer f.Close()
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return &Request{ID: r.ID}, fds, err
	}
	body, err := io.ReadAll(io.LimitReader(f, MaxRequestSize+1))
	if err != nil {
		return &Request{ID: r.ID}, fds, err
	}
	if len(body) > MaxRequestSize {
		return &Request{ID: r.ID}, fds, fmt.Errorf("request larger than %d bytes", MaxRequestSize)
	}
	id := r.ID
	r = Request{}
	if err := json.Unmarshal(body, &r); err != nil {
		return &Request{ID: id}, fds, err
	}
	r.ID = id
	return &r, fds, nil
}

// CloseFDs closes every descriptor of fds.
func CloseFDs(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}
