package main

import (
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progress is cp's byte-count bar over all the files of one copy. Its
// methods do nothing on a nil *progress (no terminal).
type progress struct {
	mu   sync.Mutex
	bar  *progressbar.ProgressBar
	base int64 // bytes of the files already done
}

func newProgress(w io.Writer) *progress {
	bar := progressbar.NewOptions64(0,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("copying"),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowTotalBytes(true),
		progressbar.OptionSetWidth(20),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionShowCount(),
		progressbar.OptionOnCompletion(func() { _, _ = io.WriteString(w, "\n") }),
		progressbar.OptionFullWidth(),
	)
	return &progress{bar: bar}
}

// addTotal adds n bytes to the expected total.
func (p *progress) addTotal(n int64) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.bar.AddMax64(n)
}

// file returns the TransferOptions.Progress callback of the next file,
// of size bytes; the bar moves on by size once the callback saw it all.
func (p *progress) file(size int64) func(done, total int64) {
	p.mu.Lock()
	base := p.base
	p.base += size
	p.mu.Unlock()
	return func(done, _ int64) {
		p.mu.Lock()
		defer p.mu.Unlock()
		_ = p.bar.Set64(base + done)
	}
}

func (p *progress) finish() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	_ = p.bar.Finish()
}
