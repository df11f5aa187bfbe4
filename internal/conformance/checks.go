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
		{Name: "files/write-read", Run: inWorkspace(checkFilesWriteRead)},
		{Name: "files/list-info", Run: inWorkspace(checkFilesListInfo)},
		{Name: "files/mkdir-move-copy", Run: inWorkspace(checkFilesMkdirMoveCopy)},
		{Name: "files/delete", Run: inWorkspace(checkFilesDelete)},
		{Name: "files/errors", Needs: NeedFixes, Run: inWorkspace(checkFilesErrors)},
		{Name: "files/path-confined", Needs: NeedFixes, Run: inWorkspace(checkFilesConfined)},
		{Name: "files/symlink-fifo", Needs: NeedFixes, Run: inSandbox(checkFilesSpecial)},
		{Name: "sandboxes/crud", Run: inWorkspace(checkSandboxCRUD)},
		{Name: "sandboxes/delete-without-force", Run: inWorkspace(checkDeleteWithoutForce)},
		{Name: "sandboxes/lifecycle", Needs: NeedFixes, Run: inWorkspace(checkSandboxLifecycle)},
		{Name: "sandboxes/workspace-busy", Run: checkWorkspaceBusy},
		{Name: "run/exit-code", Run: inSandbox(checkRunExitCode)},
		{Name: "run/not-found-not-executable", Needs: NeedFixes, Run: inSandbox(checkRunNotFound)},
		{Name: "run/output-bytes", Run: inSandbox(checkRunOutput)},
		{Name: "run/env-cwd-args", Run: inSandbox(checkRunEnvCwdArgs)},
		{Name: "run/timeout", Needs: NeedFixes, Run: inSandbox(checkRunTimeout)},
		{Name: "process/kill", Needs: NeedFixes, Run: inSandbox(checkKill)},
		{Name: "binary/files", Needs: workspace.FeatureBinary, Run: inWorkspace(checkBinaryFiles)},
		{Name: "binary/run", Needs: workspace.FeatureBinary, Run: inSandbox(checkBinaryRun)},
		{Name: "files.raw/range", Needs: workspace.FeatureFilesRaw, Run: inWorkspace(checkFilesRaw)},
		{Name: "process.stream/events", Needs: workspace.FeatureProcessStream, Run: inSandbox(checkStreamEvents)},
		{Name: "process.stream/kill", Needs: workspace.FeatureProcessStream, Run: inSandbox(checkStreamKill)},
		{Name: "process.stream/timeout-disconnect", Needs: workspace.FeatureProcessStream, Run: inSandbox(checkStreamTimeoutDisconnect)},
		{Name: "process.stdin/run", Needs: workspace.FeatureProcessStdin, Run: inSandbox(checkStdin)},
		{Name: "pty/session", Needs: workspace.FeaturePTY, Run: inSandbox(checkPTY)},
		{Name: "auth/unauthorized", Needs: workspace.FeatureAuth, Run: checkAuth},
		{Name: "nfs/open", Run: inWorkspace(checkNFS)},
		{Name: "limits/json-read", Needs: NeedFixes, Slow: true, Run: inWorkspace(checkLimitJSONRead)},
		{Name: "limits/run-truncation", Needs: NeedFixes, Slow: true, Run: inSandbox(checkLimitRunTruncation)},
	}
}
