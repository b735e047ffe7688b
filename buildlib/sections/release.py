"""The `release:` section: what `invoke release` puts into dist/."""

from __future__ import annotations

from ..schema import SECTION_DEFAULTS, Field, ListOf, Nullable, Record, Str
from .deploy import local_path_problem

FORMATS = ("deb", "rpm")
_REL_PATH = Str(pattern=r"[A-Za-z0-9._][A-Za-z0-9._/-]*", pattern_help="a path inside the repository")

SECTION = Field(
    Record(
        cls=dict,
        fields={
            "dist": Field(_REL_PATH, default="dist"),
            # Which binaries the archives hold (null: every one of `binaries`).
            "binaries": Field(Nullable(ListOf(Str(what="a binary of `binaries`"))), default=None),
            # Beside the binaries in every archive; null: the LICENSE* and README* files at the root.
            "files": Field(Nullable(ListOf(_REL_PATH)), default=None),
            "sign": Field(Record(cls=dict, fields={
                # An SSH private key (ssh-keygen -Y sign); null: checksums.txt goes out unsigned.
                "key": Field(Nullable(Str(check=local_path_problem, what="a file path")), default=None),
                "namespace": Field(Str(pattern=r"[a-z0-9][a-z0-9.@_-]*", pattern_help="an ssh-keygen namespace"),
                                   default="file"),
            }), default=SECTION_DEFAULTS),
            "packages": Field(Record(cls=dict, fields={
                "formats": Field(ListOf(Str(choices=FORMATS)), factory=lambda: list(FORMATS)),
                # null: the author of the release commit
                "maintainer": Field(Nullable(Str(pattern=r"[^<>\n]+<[^<>\s]+@[^<>\s]+>",
                                                 pattern_help="a name and an address, like Ops <ops@example.com>")),
                                    default=None),
                "description": Field(Nullable(Str()), default=None),
                "homepage": Field(Nullable(Str(pattern=r"https?://\S+", pattern_help="an http(s) URL")),
                                  default=None),
                "license": Field(Nullable(Str()), default=None),
            }), default=SECTION_DEFAULTS),
        },
    ),
    default=SECTION_DEFAULTS,
)
