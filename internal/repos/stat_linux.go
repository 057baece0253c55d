//go:build linux

package repos

import (
	"os"
	"syscall"
	"time"

	"github.com/go-git/go-git/v5/plumbing/format/index"
)

// fillStat records what git's index keeps of a file, as go-git does on Linux, so that a status
// check can trust the index instead of hashing every file.
func fillStat(e *index.Entry, fi os.FileInfo) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		e.CreatedAt = time.Unix(st.Ctim.Unix())
		e.Dev, e.Inode, e.GID, e.UID = uint32(st.Dev), uint32(st.Ino), st.Gid, st.Uid
	}
}
