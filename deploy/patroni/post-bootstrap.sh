#!/bin/sh
# Run once by Patroni on the member that makes the cluster, with a
# connection string as its argument: the chat's database, empty (the stack's
# migration job creates its schema and roles).
set -eu
psql -v ON_ERROR_STOP=1 -q -d "$1" -c "CREATE DATABASE ostchat"
