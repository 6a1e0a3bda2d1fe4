package config

//go:generate go run ./configdoc -o ../../docs/configuration.md
