package integration

import (
	"bytes"
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elevo/workspace-sdk-go/workspacetest"
)

// goBlock matches a ```go fenced block of the README.
var goBlock = regexp.MustCompile("(?ms)^```go\n(.*?)^```")

// readmeBlocks returns the README's Go blocks that call the SDK.
func readmeBlocks(t *testing.T) []string {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	require.NoError(t, err)
	var blocks []string
	for _, m := range goBlock.FindAllStringSubmatch(string(readme), -1) {
		b := m[1]
		if strings.Contains(b, "c.") || strings.Contains(b, "workspace.New") || strings.Contains(b, "workspacetest.") {
			blocks = append(blocks, b)
		}
	}
	return blocks
}

// fragmentImports are the packages README fragments may use.
var fragmentImports = []string{"context", "errors", "fmt", "io/fs", "log", "os", "strings", "sync", "time"}

// fragmentFunc wraps a README fragment in a function that has what the
// fragments assume (ctx, a client c, a workspace ws, a running sandbox sbx
// and its id sandboxID), marking every variable the fragment declares at
// its top level as used: a listing shows calls, not what is done with
// their results.
func fragmentFunc(t *testing.T, name, body string) string {
	t.Helper()
	src := "package p\nfunc " + name + "(ctx context.Context, c *workspace.Client, ws *workspace.Workspace, sbx *workspace.Sandbox) {\n" +
		"sandboxID := sbx.ID\n" + body + "\n}\n"
	f, err := parser.ParseFile(token.NewFileSet(), "", src, 0)
	require.NoError(t, err, "README block does not parse:\n%s", body)
	var used []string
	for _, st := range f.Decls[0].(*ast.FuncDecl).Body.List {
		switch st := st.(type) {
		case *ast.AssignStmt:
			if st.Tok == token.DEFINE {
				for _, l := range st.Lhs {
					if id, ok := l.(*ast.Ident); ok && id.Name != "_" {
						used = append(used, id.Name)
					}
				}
			}
		}
	}
	var b strings.Builder
	b.WriteString(strings.TrimPrefix(strings.TrimSuffix(src, "\n}\n"), "package p\n"))
	for _, u := range used {
		fmt.Fprintf(&b, "\n_ = %s", u)
	}
	b.WriteString("\n}\n")
	return b.String()
}

// TestREADMEBlocks compiles every Go block of the README that calls the
// SDK and runs it against the reference server: whole programs with go
// run (WORKSPACE_API_URL pointing at the server), the workspacetest
// snippet with go test, and fragments inside one program that gives them
// a client, a workspace and a running sandbox. The kernel NFS mount block
// is compiled but not run (it would mount on the host).
func TestREADMEBlocks(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs three programs")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build the README programs")
	}
	srv := workspacetest.NewServer(t)
	dir, err := os.MkdirTemp(".", "readmegen")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	run := func(t *testing.T, pkgDir string, args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, gobin, args...)
		cmd.Dir = pkgDir
		cmd.Env = append(os.Environ(), "WORKSPACE_API_URL="+srv.URL, "WORKSPACE_API_KEY=", "GOFLAGS=-count=1")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out.String())
		}
		return out.String()
	}
	write := func(t *testing.T, sub, file, src string) string {
		t.Helper()
		d := filepath.Join(dir, sub)
		require.NoError(t, os.MkdirAll(d, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(d, file), []byte(src), 0o644))
		return d
	}

	var frags, compileOnly []string
	programs := 0
	for i, b := range readmeBlocks(t) {
		switch {
		case strings.HasPrefix(b, "package main"):
			programs++
			d := write(t, fmt.Sprintf("prog%d", i), "main.go", b)
			require.Contains(t, run(t, d, "run", "."), "File content: Hello, World!")
		case strings.HasPrefix(b, "func Test"):
			imports := "\t\"testing\"\n\n"
			if usesSDKPackage.MatchString(stripLineComments(b)) {
				imports += "\tworkspace \"github.com/elevo/workspace-sdk-go\"\n"
			}
			imports += "\t\"github.com/elevo/workspace-sdk-go/workspacetest\"\n"
			src := "package readme\n\nimport (\n" + imports + ")\n\n" + b
			d := write(t, fmt.Sprintf("test%d", i), "readme_test.go", src)
			run(t, d, "test", ".")
		case strings.Contains(b, "c.NFS.Mount("):
			compileOnly = append(compileOnly, fragmentFunc(t, fmt.Sprintf("block%d", i), b))
		default:
			frags = append(frags, fragmentFunc(t, fmt.Sprintf("block%d", i), b))
		}
	}
	require.NotZero(t, programs, "no whole program found in the README")
	require.NotEmpty(t, frags, "no fragment found in the README")

	var src strings.Builder
	src.WriteString("package main\n\nimport (\n")
	for _, imp := range fragmentImports {
		fmt.Fprintf(&src, "\t%q\n", imp)
	}
	src.WriteString("\n\tworkspace \"github.com/elevo/workspace-sdk-go\"\n)\n\n")
	src.WriteString("var _, _, _, _, _, _, _ = errors.Is, fmt.Sprint, fs.ReadFile, log.Print, os.Exit, strings.TrimSpace, sync.OnceFunc\nvar _ = time.Second\n\n")
	src.WriteString(`func main() {
	ctx := context.Background()
	c, err := workspace.NewClientFromEnv()
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	ws, err := c.Workspace.Create(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	sbx, err := c.Sandbox.Create(ctx, &workspace.CreateSandboxParams{WorkspaceID: ws.ID})
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile("dataset.tar", []byte("a dataset"), 0o644); err != nil {
		log.Fatal(err)
	}
`)
	for i := range frags {
		fmt.Fprintf(&src, "\tfmt.Println(\"== block %d\")\n", i)
		fmt.Fprintf(&src, "\t%s(ctx, c, ws, sbx)\n", strings.TrimSpace(strings.SplitN(strings.TrimPrefix(frags[i], "func "), "(", 2)[0]))
	}
	src.WriteString("\t_ = compileOnly\n}\n\n")
	src.WriteString("// compileOnly holds blocks that are compiled, not run.\nvar compileOnly = []any{")
	for _, f := range compileOnly {
		fmt.Fprintf(&src, "%s, ", strings.SplitN(strings.TrimPrefix(f, "func "), "(", 2)[0])
	}
	src.WriteString("}\n\n")
	for _, f := range append(frags, compileOnly...) {
		src.WriteString(f)
		src.WriteString("\n")
	}
	d := write(t, "fragments", "main.go", src.String())
	out := run(t, d, "run", ".")
	// Every fragment ran to its end, and the ones that print said what
	// they should.
	for i := range frags {
		require.Contains(t, out, fmt.Sprintf("== block %d\n", i))
	}
	for _, want := range []string{"line 3", "Exited with code: 0", "Created 3 sandboxes", "Worker 2: Worker 2", "gave up after 2 s"} {
		require.Contains(t, out, want, "fragments' output:\n%s", out)
	}
}

// usesSDKPackage matches a use of the package workspace (not workspacetest).
var usesSDKPackage = regexp.MustCompile(`\bworkspace\.`)

// stripLineComments removes // comments, so a type named in a comment
// does not count as a use of its package.
func stripLineComments(src string) string {
	lines := strings.Split(src, "\n")
	for i, l := range lines {
		if j := strings.Index(l, "//"); j >= 0 {
			lines[i] = l[:j]
		}
	}
	return strings.Join(lines, "\n")
}
