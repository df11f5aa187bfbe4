package agent

// Sizes of the channel.
const (
	MaxPacket = 64 << 10 // largest packet either side reads
	MaxInline = 48 << 10 // larger requests go through a memfd
	MaxFDs    = 4        // most descriptors on one packet
	// MaxRequestSize bounds the encoded size of one request (command,
	// arguments, environment).
	MaxRequestSize = 16 << 20
)
