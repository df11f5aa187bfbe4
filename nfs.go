package workspace

// NFSService mounts workspaces over NFS (kernel mount) and opens userspace
// NFSv3 sessions. CONTRACT STUB: owned by the NFS helper.
type NFSService struct{ c *Client }
