package conformance

import (
	"context"
	"errors"
	"fmt"
	"time"

	workspace "github.com/elevo/workspace-sdk-go"
)

// checkFilesWriteRead: PUT creates parents and GET returns the same text;
// a missing file is 404/3001.
func checkFilesWriteRead(ctx context.Context, e *Env, ws *workspace.Workspace) error {
	d := e.Dir("write-read")
	text := []byte("hello, conformance\nline two: ünïcödé\n")
	p := d + "/a/b/c.txt"
	if err := e.writeReadBack(ctx, ws.ID, p, text, "PUT /workspaces/{id}/files", "GET /workspaces/{id}/files"); err != nil {
		return err
	}
	if err := e.writeReadBack(ctx, ws.ID, p, []byte("short"), "PUT /workspaces/{id}/files (overwrite)", "GET /workspaces/{id}/files after overwrite"); err != nil {
		return err
	}
	_, err := e.C.Workspace.ReadFile(ctx, ws.ID, d+"/missing.txt")
	return wantAPIError("GET /workspaces/{id}/files of a missing file", err, workspace.CodeFileNotFound, 404)
}

// writeReadBack writes data to p of workspace wsID, reads it back and
// compares; put and get name the two routes in the error.
func (e *Env) writeReadBack(ctx context.Context, wsID, p string, data []byte, put, get string) error {
	if err := e.C.Workspace.WriteFile(ctx, wsID, p, data); err != nil {
		return failed(put, err)
	}
	got, err := e.C.Workspace.ReadFile(ctx, wsID, p)
	if err != nil {
		return failed(get, err)
	}
	return differ(get, "content", got, data)
}

// checkFilesListInfo: list is one level sorted by name with types and
// sizes; info describes a file and a directory; a missing path is
// 404/3001.
func checkFilesListInfo(ctx context.Context, e *Env, ws *workspace.Workspace) error {
	d := e.Dir("list")
	for _, f := range []struct{ name, body string }{{"b.txt", "bb"}, {"a.txt", "a"}, {"sub/deep.txt", "deep"}} {
		if err := e.C.Workspace.WriteFile(ctx, ws.ID, d+"/"+f.name, []byte(f.body)); err != nil {
			return failed("PUT /workspaces/{id}/files", err)
		}
	}
	const route = "GET /workspaces/{id}/files/list"
	list, err := e.C.Workspace.ListFiles(ctx, ws.ID, d)
	if err != nil {
		return failed(route, err)
	}
	var names []string
	for _, f := range list {
		names = append(names, f.Name)
	}
	if fmt.Sprint(names) != "[a.txt b.txt sub]" {
		return mismatch(route, "names (one level, sorted)", names, "[a.txt b.txt sub]")
	}
	if list[1].Type != workspace.FileTypeFile || list[1].Size != 2 {
		return mismatch(route, "b.txt type/size", fmt.Sprint(list[1].Type, "/", list[1].Size), "file/2")
	}
	if list[2].Type != workspace.FileTypeDirectory {
		return mismatch(route, "sub type", list[2].Type, workspace.FileTypeDirectory)
	}
	const iroute = "GET /workspaces/{id}/files/info"
	fi, err := e.C.Workspace.GetFileInfo(ctx, ws.ID, d+"/sub/deep.txt")
	if err != nil {
		return failed(iroute, err)
	}
	if fi.Name != "deep.txt" || fi.Type != workspace.FileTypeFile || fi.Size != 4 {
		return mismatch(iroute, "name/type/size", fmt.Sprint(fi.Name, "/", fi.Type, "/", fi.Size), "deep.txt/file/4")
	}
	fi, err = e.C.Workspace.GetFileInfo(ctx, ws.ID, d+"/sub")
	if err != nil {
		return failed(iroute, err)
	}
	if fi.Type != workspace.FileTypeDirectory {
		return mismatch(iroute, "type of a directory", fi.Type, workspace.FileTypeDirectory)
	}
	_, err = e.C.Workspace.GetFileInfo(ctx, ws.ID, d+"/nope")
	if err := wantAPIError(iroute+" of a missing path", err, workspace.CodeFileNotFound, 404); err != nil {
		return err
	}
	ok, err := e.C.Workspace.Exists(ctx, ws.ID, d+"/nope")
	if err != nil || ok {
		return mismatch(iroute, "Exists of a missing path", fmt.Sprint(ok, " ", err), "false <nil>")
	}
	return nil
}

// checkFilesMkdirMoveCopy: mkdir -p, move (source gone), copy of a file
// and of a directory tree.
func checkFilesMkdirMoveCopy(ctx context.Context, e *Env, ws *workspace.Workspace) error {
	d := e.Dir("mmc")
	if err := e.C.Workspace.Mkdir(ctx, ws.ID, d+"/x/y/z"); err != nil {
		return failed("POST /workspaces/{id}/files/mkdir", err)
	}
	if err := e.C.Workspace.Mkdir(ctx, ws.ID, d+"/x/y/z"); err != nil {
		return failed("POST /workspaces/{id}/files/mkdir of an existing directory (mkdir -p)", err)
	}
	fi, err := e.C.Workspace.GetFileInfo(ctx, ws.ID, d+"/x/y/z")
	if err != nil {
		return failed("GET /workspaces/{id}/files/info after mkdir", err)
	}
	if fi.Type != workspace.FileTypeDirectory {
		return mismatch("POST /workspaces/{id}/files/mkdir", "type", fi.Type, workspace.FileTypeDirectory)
	}
	if err := e.C.Workspace.WriteFile(ctx, ws.ID, d+"/x/y/z/f.txt", []byte("moved")); err != nil {
		return failed("PUT /workspaces/{id}/files", err)
	}
	const mroute = "POST /workspaces/{id}/files/move"
	if err := e.C.Workspace.MoveFile(ctx, ws.ID, d+"/x/y/z/f.txt", d+"/x/g.txt"); err != nil {
		return failed(mroute, err)
	}
	got, err := e.C.Workspace.ReadFile(ctx, ws.ID, d+"/x/g.txt")
	if err != nil {
		return failed(mroute+": read destination", err)
	}
	if err := differ(mroute, "destination content", got, []byte("moved")); err != nil {
		return err
	}
	_, err = e.C.Workspace.ReadFile(ctx, ws.ID, d+"/x/y/z/f.txt")
	if err := wantAPIError(mroute+": read the moved source", err, workspace.CodeFileNotFound, 404); err != nil {
		return err
	}
	const croute = "POST /workspaces/{id}/files/copy"
	if err := e.C.Workspace.CopyFile(ctx, ws.ID, d+"/x/g.txt", d+"/g2.txt"); err != nil {
		return failed(croute, err)
	}
	for _, p := range []string{d + "/x/g.txt", d + "/g2.txt"} {
		got, err := e.C.Workspace.ReadFile(ctx, ws.ID, p)
		if err != nil {
			return failed(croute+": read "+p, err)
		}
		if err := differ(croute, p, got, []byte("moved")); err != nil {
			return err
		}
	}
	if err := e.C.Workspace.CopyFile(ctx, ws.ID, d+"/x", d+"/xcopy"); err != nil {
		return failed(croute+" of a directory", err)
	}
	got, err = e.C.Workspace.ReadFile(ctx, ws.ID, d+"/xcopy/g.txt")
	if err != nil {
		return failed(croute+" of a directory: read a copied file", err)
	}
	if err := differ(croute+" of a directory", "copied file", got, []byte("moved")); err != nil {
		return err
	}
	if _, err := e.C.Workspace.GetFileInfo(ctx, ws.ID, d+"/xcopy/y/z"); err != nil {
		return failed(croute+" of a directory: nested directory", err)
	}
	return nil
}

// checkFilesDelete: a file, an empty directory, and a tree with
// recursive=true go away.
func checkFilesDelete(ctx context.Context, e *Env, ws *workspace.Workspace) error {
	var err error
	d := e.Dir("delete")
	const route = "DELETE /workspaces/{id}/files"
	if err := e.C.Workspace.WriteFile(ctx, ws.ID, d+"/t/f.txt", []byte("x")); err != nil {
		return failed("PUT /workspaces/{id}/files", err)
	}
	if err := e.C.Workspace.DeleteFile(ctx, ws.ID, d+"/t/f.txt", nil); err != nil {
		return failed(route, err)
	}
	if _, err := e.C.Workspace.GetFileInfo(ctx, ws.ID, d+"/t/f.txt"); wantAPIError(route, err, workspace.CodeFileNotFound, 404) != nil {
		return wantAPIError(route+": info of the deleted file", err, workspace.CodeFileNotFound, 404)
	}
	if err := e.C.Workspace.DeleteFile(ctx, ws.ID, d+"/t", nil); err != nil {
		return failed(route+" of an empty directory", err)
	}
	if err := e.C.Workspace.WriteFile(ctx, ws.ID, d+"/tree/a/b.txt", []byte("x")); err != nil {
		return failed("PUT /workspaces/{id}/files", err)
	}
	if err := e.C.Workspace.DeleteFile(ctx, ws.ID, d+"/tree", &workspace.DeleteFileOptions{Recursive: true}); err != nil {
		return failed(route+"?recursive=true", err)
	}
	_, err = e.C.Workspace.GetFileInfo(ctx, ws.ID, d+"/tree")
	return wantAPIError(route+"?recursive=true: info of the deleted tree", err, workspace.CodeFileNotFound, 404)
}

// checkFilesErrors: reading a directory is 400/3005, deleting a non-empty
// directory without recursive is 400/3006 (and leaves it).
func checkFilesErrors(ctx context.Context, e *Env, ws *workspace.Workspace) error {
	var err error
	d := e.Dir("errors")
	if err := e.C.Workspace.WriteFile(ctx, ws.ID, d+"/full/f.txt", []byte("x")); err != nil {
		return failed("PUT /workspaces/{id}/files", err)
	}
	_, err = e.C.Workspace.ReadFile(ctx, ws.ID, d+"/full")
	if err := wantAPIError("GET /workspaces/{id}/files of a directory", err, workspace.CodeNotADirectory, 400); err != nil {
		return err
	}
	err = e.C.Workspace.DeleteFile(ctx, ws.ID, d+"/full", nil)
	if err := wantAPIError("DELETE /workspaces/{id}/files of a non-empty directory without recursive", err, workspace.CodeDirectoryNotEmpty, 400); err != nil {
		return err
	}
	if _, err := e.C.Workspace.GetFileInfo(ctx, ws.ID, d+"/full/f.txt"); err != nil {
		return failed("DELETE /workspaces/{id}/files refused: the file must stay", err)
	}
	return nil
}

// checkFilesConfined: paths leaving the workspace through .. are
// 403/7003 on every file route; a leading / is the workspace root.
func checkFilesConfined(ctx context.Context, e *Env, ws *workspace.Workspace) error {
	var err error
	d := e.Dir("confined")
	if err := e.C.Workspace.WriteFile(ctx, ws.ID, "/"+d+"/root.txt", []byte("r")); err != nil {
		return failed("PUT /workspaces/{id}/files with a leading /", err)
	}
	if _, err := e.C.Workspace.ReadFile(ctx, ws.ID, d+"/root.txt"); err != nil {
		return failed("GET /workspaces/{id}/files: a leading / must mean the workspace root", err)
	}
	out := "../../../../etc/passwd"
	_, err = e.C.Workspace.ReadFile(ctx, ws.ID, out)
	if err := wantAPIError("GET /workspaces/{id}/files?path="+out, err, workspace.CodePathNotAllowed, 403); err != nil {
		return err
	}
	err = e.C.Workspace.WriteFile(ctx, ws.ID, d+"/../../escape.txt", []byte("x"))
	if err := wantAPIError("PUT /workspaces/{id}/files?path=../../escape.txt", err, workspace.CodePathNotAllowed, 403); err != nil {
		return err
	}
	_, err = e.C.Workspace.ListFiles(ctx, ws.ID, "..")
	if err := wantAPIError("GET /workspaces/{id}/files/list?path=..", err, workspace.CodePathNotAllowed, 403); err != nil {
		return err
	}
	err = e.C.Workspace.CopyFile(ctx, ws.ID, d+"/root.txt", "../copied.txt")
	return wantAPIError("POST /workspaces/{id}/files/copy to ../copied.txt", err, workspace.CodePathNotAllowed, 403)
}

// checkFilesSpecial (Part 2): a symlink made in a sandbox that points
// outside the workspace is never followed (403/7003); a FIFO is listed as
// type "other" and reading it is refused at once, not a hang.
func checkFilesSpecial(ctx context.Context, e *Env, sb *workspace.Sandbox) error {
	d := e.Dir("special")
	res, err := e.C.Process.Shell(ctx, sb.ID, "mkdir -p "+d+" && ln -s /etc "+d+"/etc-link && mkfifo "+d+"/fifo", nil)
	if err != nil {
		return failed(runRoute+" ln -s, mkfifo", err)
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("%s: ln -s, mkfifo in the sandbox: exit %d: %s", runRoute, res.ExitCode, res.Stderr)
	}
	_, err = e.C.Workspace.ReadFile(ctx, sb.WorkspaceID, d+"/etc-link/passwd")
	if err := wantAPIError("GET /workspaces/{id}/files through a symlink to /etc", err, workspace.CodePathNotAllowed, 403); err != nil {
		return err
	}
	err = e.C.Workspace.WriteFile(ctx, sb.WorkspaceID, d+"/etc-link/conformance", []byte("x"))
	if err := wantAPIError("PUT /workspaces/{id}/files through a symlink to /etc", err, workspace.CodePathNotAllowed, 403); err != nil {
		return err
	}
	fi, err := e.C.Workspace.GetFileInfo(ctx, sb.WorkspaceID, d+"/fifo")
	if err != nil {
		return failed("GET /workspaces/{id}/files/info of a FIFO", err)
	}
	if fi.Type != workspace.FileTypeOther {
		return mismatch("GET /workspaces/{id}/files/info of a FIFO", "type", fi.Type, workspace.FileTypeOther)
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err = e.C.Workspace.ReadFile(rctx, sb.WorkspaceID, d+"/fifo")
	if err == nil {
		return fmt.Errorf("GET /workspaces/{id}/files of a FIFO: want a refusal, got content")
	}
	if rctx.Err() != nil {
		return fmt.Errorf("GET /workspaces/{id}/files of a FIFO: no answer in 10 s (want a refusal at once)")
	}
	var ae *workspace.Error
	if !errors.As(err, &ae) || ae.StatusCode < 400 || ae.StatusCode >= 500 {
		return fmt.Errorf("GET /workspaces/{id}/files of a FIFO: want a 4xx refusal, got %v", err)
	}
	return nil
}
