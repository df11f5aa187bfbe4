package conformance

import workspace "github.com/elevo/workspace-sdk-go"

// Checks returns every check, in the order they run: the base protocol,
// the Part 2 fixes, the extensions, the limits, then the Part 3 features.
func Checks() []Check {
	return append(baseChecks(), nextChecks()...)
}

// baseChecks are the checks of the calls the SDK has in every build.
func baseChecks() []Check {
	return []Check{
		{Name: "health", Run: checkHealth},
		{Name: "workspaces/crud", Run: checkWorkspaceCRUD},
		{Name: "files/write-read", Run: checkFilesWriteRead},
		{Name: "files/list-info", Run: checkFilesListInfo},
		{Name: "files/mkdir-move-copy", Run: checkFilesMkdirMoveCopy},
		{Name: "files/delete", Run: checkFilesDelete},
		{Name: "files/errors", Needs: NeedFixes, Run: checkFilesErrors},
		{Name: "files/path-confined", Needs: NeedFixes, Run: checkFilesConfined},
		{Name: "files/symlink-fifo", Needs: NeedFixes, Run: checkFilesSpecial},
		{Name: "sandboxes/crud", Run: checkSandboxCRUD},
		{Name: "sandboxes/delete-without-force", Run: checkDeleteWithoutForce},
		{Name: "sandboxes/lifecycle", Needs: NeedFixes, Run: checkSandboxLifecycle},
		{Name: "sandboxes/workspace-busy", Run: checkWorkspaceBusy},
		{Name: "run/exit-code", Run: checkRunExitCode},
		{Name: "run/not-found-not-executable", Needs: NeedFixes, Run: checkRunNotFound},
		{Name: "run/output-bytes", Run: checkRunOutput},
		{Name: "run/env-cwd-args", Run: checkRunEnvCwdArgs},
		{Name: "run/timeout", Needs: NeedFixes, Run: checkRunTimeout},
		{Name: "process/kill", Needs: NeedFixes, Run: checkKill},
		{Name: "binary/files", Needs: workspace.FeatureBinary, Run: checkBinaryFiles},
		{Name: "binary/run", Needs: workspace.FeatureBinary, Run: checkBinaryRun},
		{Name: "files.raw/range", Needs: workspace.FeatureFilesRaw, Run: checkFilesRaw},
		{Name: "process.stream/events", Needs: workspace.FeatureProcessStream, Run: checkStreamEvents},
		{Name: "process.stream/kill", Needs: workspace.FeatureProcessStream, Run: checkStreamKill},
		{Name: "process.stream/timeout-disconnect", Needs: workspace.FeatureProcessStream, Run: checkStreamTimeoutDisconnect},
		{Name: "process.stdin/run", Needs: workspace.FeatureProcessStdin, Run: checkStdin},
		{Name: "pty/session", Needs: workspace.FeaturePTY, Run: checkPTY},
		{Name: "auth/unauthorized", Needs: workspace.FeatureAuth, Run: checkAuth},
		{Name: "nfs/open", Run: checkNFS},
		{Name: "limits/json-read", Needs: NeedFixes, Slow: true, Run: checkLimitJSONRead},
		{Name: "limits/run-truncation", Needs: NeedFixes, Slow: true, Run: checkLimitRunTruncation},
	}
}
