package workspace

// PTYService opens interactive terminals in sandboxes.
// CONTRACT STUB: owned by the streaming/PTY helper.
type PTYService struct{ c *Client }
