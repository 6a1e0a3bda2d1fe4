#!/usr/bin/python3
"""The seed's stack, as a peer for bench run --peer: FastAPI on uvicorn
(two worker processes), SQLAlchemy's asyncio engine on asyncpg. It serves
GET /livez and an admin's GET /api/v1/users/{id} with bearer tokens of the
service's own sessions (the SHA-256 of the token is the row's token_hash),
running the two statements of bench/baseline (SessionSQL, then UserSQL), so
bench run can load it beside the service on the same database.

Started as `seedpeer.py --addr 127.0.0.1:0` with DATABASE_URL set, it binds
the address, logs {"msg":"listening","addr":...} on stderr as accounts serve
does, and stops its workers on SIGTERM.
"""
import argparse
import datetime
import hashlib
import json
import os
import socket
import sys
import urllib.parse
import uuid

from fastapi import FastAPI, Header
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

SESSION_SQL = text(
    "SELECT s.id, s.expires_at, u.id, u.username, u.role, u.is_active, u.created_at, u.updated_at"
    " FROM auth_sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = :token_hash"
)
USER_SQL = text("SELECT id, username, role, is_active, created_at, updated_at FROM users WHERE id = :id")
ROLES = {"USER": "user", "ADMIN": "admin", "SUPER_ADMIN": "super_admin"}

app = FastAPI()
engine = None


def async_url(raw):
    """The DATABASE_URL of the service as SQLAlchemy's asyncpg URL: the
    scheme renamed and the libpq query options, which asyncpg does not
    take, dropped."""
    u = urllib.parse.urlsplit(raw)
    return urllib.parse.urlunsplit(("postgresql+asyncpg", u.netloc, u.path, "", ""))


@app.on_event("startup")
async def startup():
    global engine
    engine = create_async_engine(async_url(os.environ["DATABASE_URL"]), pool_size=10, max_overflow=20)


def problem(status, code):
    return JSONResponse({"status": status, "code": code}, status_code=status)


@app.get("/livez")
async def livez():
    return {"status": "ok"}


@app.get("/api/v1/users/{user_id}")
async def get_user(user_id: uuid.UUID, authorization: str = Header(default="")):
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return problem(401, "unauthenticated")
    token_hash = hashlib.sha256(token.strip().encode()).digest()
    async with engine.connect() as conn:
        s = (await conn.execute(SESSION_SQL, {"token_hash": token_hash})).first()
        if s is None or s[1] <= datetime.datetime.now(datetime.timezone.utc):
            return problem(401, "unauthenticated")
        if not s[5]:
            return problem(403, "account_inactive")
        if s[4] not in ("ADMIN", "SUPER_ADMIN"):
            return problem(403, "forbidden")
        u = (await conn.execute(USER_SQL, {"id": user_id})).first()
    if u is None:
        return problem(404, "user_not_found")
    return {"id": str(u[0]), "username": u[1], "role": ROLES[u[2]], "is_active": u[3],
            "created_at": u[4].isoformat(), "updated_at": u[5].isoformat()}


def main():
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", default="127.0.0.1:0")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    host, _, port = args.addr.rpartition(":")
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    config = uvicorn.Config("seedpeer:app", workers=args.workers, log_level="warning", access_log=False)
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that
    # say they are TCP, and without it uvicorn's h11 protocol (Debian's
    # uvicorn has no httptools) writes the head and the body of an answer
    # apart, the second held by Nagle until the client's delayed ACK:
    # 40 ms on every request after a connection's first.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, int(port)))
    sock.set_inheritable(True)
    h, p = sock.getsockname()
    print(json.dumps({"msg": "listening", "addr": f"{h}:{p}"}), file=sys.stderr, flush=True)
    server = uvicorn.Server(config)
    Multiprocess(config, target=server.run, sockets=[sock]).run()


if __name__ == "__main__":
    main()
