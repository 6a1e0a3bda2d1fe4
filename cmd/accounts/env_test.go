package main

import "accounts/internal/cli"

// superAdminPasswordEnv is the variable the tests set for `users
// create-superadmin`; the users commands live in internal/cli.
const superAdminPasswordEnv = cli.SuperAdminPasswordEnv
