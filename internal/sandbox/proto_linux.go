//go:build linux

package sandbox

import (
	"encoding/json"
	"fmt"
	"net"
	"os"

	"github.com/elevo/workspace-sdk-go/internal/sandbox/agent"
	"golang.org/x/sys/unix"
)

// The server's end of the control protocol (package agent defines it).

// message is one reply of the agent with the descriptors it carried.
type message struct {
	agent.Message
	fds []int // received descriptors (not on the wire)
}

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
func encodeRequest(r *agent.Request, id uint64) ([]byte, error) {
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
	if len(b) <= agent.MaxInline {
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
	hdr, _ := json.Marshal(&agent.Request{ID: id, Large: true})
	return sendPacket(c, hdr, append([]int{mfd}, fds...))
}

// closeFDs closes every descriptor of fds.
func closeFDs(fds []int) { agent.CloseFDs(fds) }
