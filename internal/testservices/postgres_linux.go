package testservices

import (
	"os/user"
	"strconv"
	"syscall"
)

// serverProcAttr runs the postmaster as u (nil: this process's user) and
// sends it SIGQUIT, PostgreSQL's immediate shutdown, when this process
// dies.
func serverProcAttr(u *user.User) *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{Pdeathsig: syscall.SIGQUIT}
	if u != nil {
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		attr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	return attr
}
