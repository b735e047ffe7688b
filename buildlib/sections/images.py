"""The `images:` section: variants, bases, budgets and where `image.push` publishes them."""

from __future__ import annotations

from ..platforms import KNOWN_PLATFORMS
from ..schema import SECTION_DEFAULTS, Bool, Field, ListOf, Nullable, OneOf, Record, Size, Str

# The Dockerfile has one target per name; order is the order of every table.
VARIANTS: tuple[str, ...] = ("alpine", "distroless", "scratch")
MODES: tuple[str, ...] = ("in-docker", "prebuilt")
# The parts of `invoke image.bench` (here, so the task list need not import the bench).
BENCH_PARTS: tuple[str, ...] = ("sizes", "rebuild", "parallel", "repro", "ko")
# "local" in bases means: the image `invoke image.bases` makes from Debian packages.
LOCAL = "local"

_MB = 1000**2
_LINUX = tuple(p for p in KNOWN_PLATFORMS if p.startswith("linux/"))
_IMAGE_REF = Str(
    pattern=r"[a-z0-9][a-z0-9._/:@-]*",
    pattern_help='an image reference such as alpine:3.22, registry.example/team/go:1.26, or "local"',
)
_AUTO_OR_BOOL = OneOf((Str(choices=("auto",)), Bool()), what='true, false or "auto"')


# Where `image.push` sends the variants: a registry host (with its port) and a path.
PUSH_REPOSITORY = r"[a-z0-9][a-z0-9.-]*(:[0-9]+)?(/[a-z0-9][a-z0-9._-]*)+"
PUSH_REPOSITORY_HELP = "a registry repository such as registry.example.com/team/app or 127.0.0.1:5000/app"
_PUSH_REPO = Str(pattern=PUSH_REPOSITORY, pattern_help=PUSH_REPOSITORY_HELP)


def _budget(image: int, overhead: int | None) -> Field:
    return Field(
        Record(
            cls=dict,
            fields={
                "max": Field(Size(), default=image),
                "overhead": Field(Nullable(Size()), default=overhead),
            },
        ),
        default=SECTION_DEFAULTS,
    )


SECTION = Field(
    Record(
        cls=dict,
        fields={
            "repository": Field(
                Nullable(Str(pattern=r"[a-z0-9][a-z0-9._/-]*", pattern_help="an image repository name")),
                default=None,
            ),
            "mode": Field(Str(choices=MODES), default="in-docker"),
            "platform": Field(Str(choices=_LINUX, what="a linux platform"), default="linux/amd64"),
            "variants": Field(ListOf(Str(choices=VARIANTS), min_len=1), factory=lambda: list(VARIANTS)),
            "dockerfile": Field(Str(), default="docker/Dockerfile"),
            "seed_modules": Field(_AUTO_OR_BOOL, default="auto"),
            "parallel": Field(_AUTO_OR_BOOL, default="auto"),
            "reproducible": Field(Bool(), default=True),
            "bases": Field(
                Record(
                    cls=dict,
                    fields={
                        "builder": Field(Nullable(_IMAGE_REF), default=None),
                        "alpine": Field(_IMAGE_REF, default="alpine:3.22"),
                        "distroless": Field(_IMAGE_REF, default="gcr.io/distroless/static-debian12:nonroot"),
                    },
                ),
                default=SECTION_DEFAULTS,
            ),
            "publish": Field(
                Record(
                    cls=dict,
                    fields={
                        "repository": Field(Nullable(_PUSH_REPO), default=None),
                        "platforms": Field(ListOf(Str(choices=_LINUX, what="a linux platform"), min_len=1),
                                           factory=lambda: ["linux/amd64", "linux/arm64"]),
                        "builder": Field(Nullable(Str(pattern=r"[A-Za-z0-9][A-Za-z0-9_.-]*",
                                                      pattern_help="a buildx builder name")), default=None),
                        "insecure": Field(Bool(), default=False),
                    },
                ),
                default=SECTION_DEFAULTS,
            ),
            "budgets": Field(
                Record(
                    cls=dict,
                    fields={
                        "binary": Field(Size(), default=20 * _MB),
                        "alpine": _budget(20 * _MB, 9 * _MB),
                        "distroless": _budget(20 * _MB, 3 * _MB),
                        "scratch": _budget(20 * _MB, _MB // 2),
                    },
                ),
                default=SECTION_DEFAULTS,
            ),
        },
    ),
    default=SECTION_DEFAULTS,
)
