package workspace

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const wsJSON = `{"id":"ws-1","name":"demo","nfs_url":"nfs://h:2049/ws-1","metadata":{"k":"v"},"created_at":"2024-05-06T07:08:09.123456789Z","updated_at":"2024-05-06T07:08:10+00:00"}`

const fileInfoJSON = `{"name":"b.txt","path":"a/b.txt","type":"file","size":12,"modified_at":"2024-05-06T07:08:09.5+02:00"}`

// methodCase checks the request one SDK call sends and how it decodes the
// answer.
type methodCase struct {
	name     string
	features []string
	reply    string // 200 body
	call     func(ctx context.Context, c *Client) (any, error)
	method   string
	path     string
	query    string // raw query, sorted as url.Values.Encode does
	body     string // JSON body; "" for none
	check    func(t *testing.T, got any)
	noDecode bool // the call ignores the response body
}

func runMethodCases(t *testing.T, cases []methodCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, tc.features)
			f.ok(tc.reply)
			got, err := tc.call(t.Context(), f.c)
			require.NoError(t, err)
			r := f.only()
			assert.Equal(t, tc.method, r.Method)
			assert.Equal(t, tc.path, r.Path)
			assert.Equal(t, tc.query, r.Query)
			if tc.body == "" {
				assert.Empty(t, r.Body)
			} else {
				assert.JSONEq(t, tc.body, string(r.Body))
				assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
			}
			if tc.check != nil {
				tc.check(t, got)
			}
		})
		t.Run(tc.name+"/api error", func(t *testing.T) {
			f := newFake(t, tc.features)
			f.script(reply{status: 400, body: `{"code":1002,"message":"bad param","details":"x"}`})
			_, err := tc.call(t.Context(), f.c)
			require.ErrorIs(t, err, ErrInvalidParameter)
			var apiErr *Error
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, 400, apiErr.StatusCode)
			assert.Equal(t, "x", apiErr.Details)
			assert.NotEmpty(t, apiErr.Op)
		})
		t.Run(tc.name+"/plain text error", func(t *testing.T) {
			f := newFake(t, tc.features)
			f.script(reply{status: 422, body: "Failed to deserialize the JSON body\n"})
			_, err := tc.call(t.Context(), f.c)
			var apiErr *Error
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, 422, apiErr.StatusCode)
			assert.Equal(t, ErrorCode(0), apiErr.Code)
			assert.Equal(t, "Failed to deserialize the JSON body", apiErr.Message)
		})
		if !tc.noDecode {
			t.Run(tc.name+"/bad json", func(t *testing.T) {
				f := newFake(t, tc.features)
				f.ok(`{"broken":`)
				_, err := tc.call(t.Context(), f.c)
				require.Error(t, err)
				assert.Contains(t, err.Error(), "decode")
			})
		}
		t.Run(tc.name+"/cancelled ctx", func(t *testing.T) {
			f := newFake(t, tc.features)
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			_, err := tc.call(ctx, f.c)
			require.ErrorIs(t, err, context.Canceled)
			assert.Empty(t, f.requests())
		})
	}
}

func TestWorkspaceMethods(t *testing.T) {
	bin := []string{"binary"}
	runMethodCases(t, []methodCase{
		{name: "Create nil", reply: wsJSON, method: "POST", path: "/workspaces", body: `{}`,
			call: func(ctx context.Context, c *Client) (any, error) { return c.Workspace.Create(ctx, nil) },
			check: func(t *testing.T, got any) {
				w := got.(*Workspace)
				assert.Equal(t, "ws-1", w.ID)
				assert.Equal(t, "demo", w.Name)
				assert.Equal(t, "nfs://h:2049/ws-1", w.NFSURL)
				assert.Equal(t, map[string]string{"k": "v"}, w.Metadata)
				assert.True(t, w.CreatedAt.Equal(time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)))
				assert.True(t, w.UpdatedAt.Equal(time.Date(2024, 5, 6, 7, 8, 10, 0, time.UTC)))
			}},
		{name: "Create params", reply: `{"id":"ws-2","name":null,"nfs_url":null,"metadata":{},"created_at":"2024-05-06T07:08:09Z","updated_at":"2024-05-06T07:08:09Z"}`,
			method: "POST", path: "/workspaces", body: `{"name":"n","metadata":{"a":"b"}}`,
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.Workspace.Create(ctx, &CreateWorkspaceParams{Name: "n", Metadata: map[string]string{"a": "b"}})
			},
			check: func(t *testing.T, got any) {
				w := got.(*Workspace)
				assert.Equal(t, "", w.Name)
				assert.Equal(t, "", w.NFSURL)
			}},
		{name: "Get", reply: wsJSON, method: "GET", path: "/workspaces/ws%201%2Fx",
			call:  func(ctx context.Context, c *Client) (any, error) { return c.Workspace.Get(ctx, "ws 1/x") },
			check: func(t *testing.T, got any) { assert.Equal(t, "ws-1", got.(*Workspace).ID) }},
		{name: "List", reply: `{"workspaces":[` + wsJSON + `,` + wsJSON + `],"total":2}`, method: "GET", path: "/workspaces",
			call:  func(ctx context.Context, c *Client) (any, error) { return c.Workspace.List(ctx) },
			check: func(t *testing.T, got any) { assert.Len(t, got.([]*Workspace), 2) }},
		{name: "Delete", reply: `{"success":true}`, method: "DELETE", path: "/workspaces/ws-1", noDecode: true,
			call: func(ctx context.Context, c *Client) (any, error) { return nil, c.Workspace.Delete(ctx, "ws-1") }},
		{name: "WriteFile binary", features: bin, reply: `{"success":true,"path":"a/b"}`, method: "PUT", path: "/workspaces/ws-1/files",
			query: "path=a%2Fb+c", body: `{"content":"AP8BZw==","encoding":"base64"}`, noDecode: true,
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.Workspace.WriteFile(ctx, "ws-1", "a/b c", []byte{0, 255, 1, 'g'})
			}},
		{name: "WriteFile text", reply: `{"success":true,"path":"a"}`, method: "PUT", path: "/workspaces/ws-1/files",
			query: "path=a", body: `{"content":"héllo"}`, noDecode: true,
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.Workspace.WriteFile(ctx, "ws-1", "a", []byte("héllo"))
			}},
		{name: "ReadFile binary", features: bin, reply: `{"content":"AP8=","encoding":"base64"}`, method: "GET", path: "/workspaces/ws-1/files",
			query: "encoding=base64&path=x.bin",
			call:  func(ctx context.Context, c *Client) (any, error) { return c.Workspace.ReadFile(ctx, "ws-1", "x.bin") },
			check: func(t *testing.T, got any) { assert.Equal(t, []byte{0, 255}, got) }},
		{name: "ReadFile text", reply: `{"content":"hi\n"}`, method: "GET", path: "/workspaces/ws-1/files", query: "path=x.txt",
			call:  func(ctx context.Context, c *Client) (any, error) { return c.Workspace.ReadFile(ctx, "ws-1", "x.txt") },
			check: func(t *testing.T, got any) { assert.Equal(t, []byte("hi\n"), got) }},
		{name: "ListFiles", reply: `{"files":[` + fileInfoJSON + `,{"name":"d","path":"a/d","type":"directory","size":0,"modified_at":null}]}`,
			method: "GET", path: "/workspaces/ws-1/files/list", query: "path=a",
			call: func(ctx context.Context, c *Client) (any, error) { return c.Workspace.ListFiles(ctx, "ws-1", "a") },
			check: func(t *testing.T, got any) {
				fs := got.([]*FileInfo)
				require.Len(t, fs, 2)
				assert.Equal(t, FileInfo{Name: "b.txt", Path: "a/b.txt", Type: FileTypeFile, Size: 12,
					ModifiedAt: fs[0].ModifiedAt}, *fs[0])
				assert.True(t, fs[0].ModifiedAt.Equal(time.Date(2024, 5, 6, 5, 8, 9, 5e8, time.UTC)))
				assert.True(t, fs[1].IsDir())
				assert.True(t, fs[1].ModifiedAt.IsZero())
			}},
		{name: "Mkdir", reply: `{"success":true,"path":"a/b"}`, method: "POST", path: "/workspaces/ws-1/files/mkdir", body: `{"path":"a/b"}`, noDecode: true,
			call: func(ctx context.Context, c *Client) (any, error) { return nil, c.Workspace.Mkdir(ctx, "ws-1", "a/b") }},
		{name: "CopyFile", reply: `{"success":true}`, method: "POST", path: "/workspaces/ws-1/files/copy", body: `{"source":"a","destination":"b"}`, noDecode: true,
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.Workspace.CopyFile(ctx, "ws-1", "a", "b")
			}},
		{name: "MoveFile", reply: `{"success":true}`, method: "POST", path: "/workspaces/ws-1/files/move", body: `{"source":"a","destination":"b"}`, noDecode: true,
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.Workspace.MoveFile(ctx, "ws-1", "a", "b")
			}},
		{name: "DeleteFile", reply: `{"success":true}`, method: "DELETE", path: "/workspaces/ws-1/files", query: "path=a", noDecode: true,
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.Workspace.DeleteFile(ctx, "ws-1", "a", nil)
			}},
		{name: "DeleteFile recursive", reply: `{"success":true}`, method: "DELETE", path: "/workspaces/ws-1/files", query: "path=a&recursive=true", noDecode: true,
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.Workspace.DeleteFile(ctx, "ws-1", "a", &DeleteFileOptions{Recursive: true})
			}},
		{name: "GetFileInfo", reply: fileInfoJSON, method: "GET", path: "/workspaces/ws-1/files/info", query: "path=a%2Fb.txt",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.Workspace.GetFileInfo(ctx, "ws-1", "a/b.txt")
			},
			check: func(t *testing.T, got any) { assert.Equal(t, int64(12), got.(*FileInfo).Size) }},
		{name: "Exists", reply: fileInfoJSON, method: "GET", path: "/workspaces/ws-1/files/info", query: "path=a",
			call:  func(ctx context.Context, c *Client) (any, error) { return c.Workspace.Exists(ctx, "ws-1", "a") },
			check: func(t *testing.T, got any) { assert.Equal(t, true, got) }},
	})
}

func TestWorkspaceWriteFileNonUTF8WithoutBinary(t *testing.T) {
	f := newFake(t, nil)
	err := f.c.Workspace.WriteFile(t.Context(), "ws-1", "a", []byte{0xff, 0xfe})
	require.ErrorIs(t, err, ErrUnsupported)
	require.ErrorIs(t, err, errors.ErrUnsupported)
	assert.Empty(t, f.requests(), "nothing may be sent")
}

func TestWorkspaceExists(t *testing.T) {
	f := newFake(t, nil)
	f.script(reply{status: 404, body: `{"code":3001,"message":"File not found: a"}`})
	ok, err := f.c.Workspace.Exists(t.Context(), "ws-1", "a")
	require.NoError(t, err)
	assert.False(t, ok)

	f.script(reply{status: 404, body: `{"code":7001,"message":"Workspace not found"}`})
	ok, err = f.c.Workspace.Exists(t.Context(), "ws-1", "a")
	require.ErrorIs(t, err, ErrWorkspaceNotFound)
	assert.False(t, ok)
}

func TestWorkspaceParamsNotMutated(t *testing.T) {
	f := newFake(t, nil)
	f.ok(wsJSON)
	p := &CreateWorkspaceParams{Name: "n", Metadata: map[string]string{"a": "b"}}
	_, err := f.c.Workspace.Create(t.Context(), p)
	require.NoError(t, err)
	assert.Equal(t, &CreateWorkspaceParams{Name: "n", Metadata: map[string]string{"a": "b"}}, p)
}

func TestTimestamps(t *testing.T) {
	for _, s := range []string{
		"2024-05-06T07:08:09Z", "2024-05-06T07:08:09.1Z", "2024-05-06T07:08:09.123456789+00:00",
		"2024-05-06T07:08:09.123456+00:00", "2024-05-06T09:08:09+02:00", "2024-05-06T07:08:09.000Z",
	} {
		var w wireTime
		require.NoError(t, json.Unmarshal([]byte(`"`+s+`"`), &w), s)
		assert.Equal(t, time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC), w.Time.UTC().Truncate(time.Second), s)
	}
	var w wireTime
	require.NoError(t, json.Unmarshal([]byte(`null`), &w))
	assert.True(t, w.IsZero())
	require.Error(t, json.Unmarshal([]byte(`"yesterday"`), &w))
}
