//go:build !linux

package repos

import (
	"os"

	"github.com/go-git/go-git/v5/plumbing/format/index"
)

func fillStat(*index.Entry, os.FileInfo) {}
