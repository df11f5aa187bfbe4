// Package tarfs moves directory trees in and out of an os.Root as tar
// streams: WriteTree writes a tree (regular files, directories and
// symlinks as links; special files are skipped) and Extract unpacks a tar
// or tar.gz, refusing every entry that could leave its directory. The
// reference server's files.archive routes and the SDK's UploadDir and
// DownloadDir both use it.
package tarfs
