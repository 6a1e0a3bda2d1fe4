// Package deploy has no code of its own: its tests read the deployment files
// at the root of the module (docker-compose.yml, .env.example, Dockerfile and
// .dockerignore) and check them against the service's configuration keys
// and the wiring that issue 5 describes, without Docker.
package deploy
