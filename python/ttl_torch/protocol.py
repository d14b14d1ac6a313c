"""The job protocol's version (docs/job-protocol.md): every line this package writes on stdout carries it as ``v``."""

VERSION = 1
