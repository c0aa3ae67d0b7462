// Package fsblob stores storage.Blobs objects as files under a root directory: the default
// media storage (MEDIA_STORAGE_PATH, default <data dir>/media).
//
// A key maps to root/key, so with keys that start with the user id the tree is
// <root>/<user_id>/..., which nginx can serve as /media/<user_id>/... (X-Accel-Redirect).
//
// Writes are crash-safe: Put streams into a hidden temporary file (".tmp-<random>") in the
// key's directory, fsyncs it, renames it over the key and fsyncs the directory, so a crash
// never leaves a half-written file under a real key. Temporary files are removed when a Put
// fails, never listed, and ones older than an hour (left by a crash) are swept by Open.
// Key segments starting with ".tmp-" are therefore reserved and rejected.
//
// Every file access goes through an os.Root, so neither ".." nor a symbolic link can reach
// outside the root (symbolic links inside the root that stay inside it are followed).
//
// Files are created 0640 and directories 0750, set explicitly so the process umask cannot
// change them: the server's user owns the tree, and nginx, run with the same group, can read
// files and traverse directories, while other users of the machine see nothing.
//
// The file system keeps no content type, so Info.ContentType is derived from the key's
// extension (mime.TypeByExtension, else application/octet-stream) — the same choice nginx
// makes when it serves the file — and PutOptions.ContentType is not stored. Callers that need
// the exact type keep it in their own records. ETags are "<mtime ns>-<size>" in hex; Put
// stamps each file with a nanosecond modification time so that rewrites differ.
package fsblob
