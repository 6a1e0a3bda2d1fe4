package main

import (
	"accounts/internal/cli"
	"accounts/internal/service"
)

// Names the tests of this package use for what now lives in other
// packages: the variable `users create-superadmin` reads (internal/cli)
// and the process logger (internal/service).
const superAdminPasswordEnv = cli.SuperAdminPasswordEnv

var newLogger = service.NewLogger
