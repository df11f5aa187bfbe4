package tartest

import (
	"archive/tar"
	"bytes"
	"errors"
	"testing"
)

// TestHugePAXIsAPAXHeader: archive/tar reads the patched header (its
// checksum holds) as a PAX header and refuses it for its size, not as a
// broken header.
func TestHugePAXIsAPAXHeader(t *testing.T) {
	_, err := tar.NewReader(bytes.NewReader(HugePAX())).Next()
	if !errors.Is(err, tar.ErrFieldTooLong) {
		t.Fatalf("Next: %v, want %v", err, tar.ErrFieldTooLong)
	}
}
