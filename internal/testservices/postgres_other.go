//go:build !linux

package testservices

import (
	"os/user"
	"strconv"
	"syscall"
)

// serverProcAttr runs the postmaster as u (nil: this process's user).
func serverProcAttr(u *user.User) *syscall.SysProcAttr {
	if u == nil {
		return nil
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
}
