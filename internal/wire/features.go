package wire

// Feature names advertised in GET /health "features" (PROTOCOL.md Parts 2
// and 3).
const (
	FeatureBinary        = "binary"
	FeatureFilesRaw      = "files.raw"
	FeatureProcessStream = "process.stream"
	FeatureProcessStdin  = "process.stdin"
	FeaturePTY           = "pty"
	FeatureAuth          = "auth"
	FeatureProcessDetach = "process.detach"
	FeaturePorts         = "ports"
	FeatureFilesWatch    = "files.watch"
	FeatureFilesArchive  = "files.archive"
)
