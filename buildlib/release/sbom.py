"""A CycloneDX SBOM per binary, from the module list the Go toolchain wrote into it.

``go version -m -json BINARY`` reads the build information every Go binary carries:
the main module, each module linked in (with its go.sum hash, or its replacement)
and the build settings. What ends up in the binary is what the SBOM lists; a
dependency of go.mod that no package imports is not in it.

The document is made with cyclonedx-python-lib, CycloneDX's own library: it knows
the specification's field rules and ships the JSON schema the result is checked
against before it is written. It is imported only by `invoke release`.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any

from .. import gotool
from ..errors import ToolError

SPEC = "1.6"


def build_info(go: str, binary: Path, environ: dict[str, str]) -> dict[str, Any]:
    proc = gotool.run(binary.parent, "version", "-m", "-json", str(binary), env=environ, go=go, timeout=60,
                      check=True, hint="a binary without Go build information (built by another toolchain?) "
                      "has no module list")
    return json.loads(proc.stdout)


def _purl(path: str, version: str | None) -> Any:
    from packageurl import PackageURL

    namespace, _, name = path.rpartition("/")
    return PackageURL(type="golang", namespace=namespace or None, name=name, version=version or None)


def _sha256_of_h1(sum_: str | None) -> str | None:
    """go.sum's h1: is base64 of a SHA-256 (of the module's file list); CycloneDX wants it in hex."""
    if not sum_ or not sum_.startswith("h1:"):
        return None
    try:
        return base64.b64decode(sum_[3:], validate=True).hex()
    except ValueError:
        return None


def document(info: dict[str, Any], *, name: str, version: str, sha256: str, platform: str, epoch: int,
             tool_version: str) -> str:
    """The SBOM of one binary as CycloneDX JSON, checked against the specification's schema."""
    from cyclonedx.model import HashAlgorithm, HashType, Property
    from cyclonedx.model.bom import Bom, BomMetaData
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.model.tool import ToolRepository
    from cyclonedx.output.json import JsonV1Dot6
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    main = info.get("Main") or {}
    settings = {s["Key"]: s["Value"] for s in info.get("Settings") or []}
    props = [Property(name="go:version", value=str(info.get("GoVersion", ""))),
             Property(name="go:package", value=str(info.get("Path", ""))),
             Property(name="go:platform", value=platform)]
    props += [Property(name=f"go:build:{k}", value=v) for k, v in sorted(settings.items())]
    root = Component(name=name, version=version, type=ComponentType.APPLICATION, bom_ref=f"{name}@{version}",
                     purl=_purl(main.get("Path") or name, version),
                     hashes=[HashType(alg=HashAlgorithm.SHA_256, content=sha256)], properties=props)
    libraries = []
    for dep in info.get("Deps") or []:
        used = dep.get("Replace") or dep
        digest = _sha256_of_h1(used.get("Sum"))
        extra = [Property(name="go:replaces", value=f"{dep['Path']}@{dep.get('Version', '')}")] \
            if dep.get("Replace") else []
        libraries.append(Component(
            name=used["Path"], version=used.get("Version") or None, type=ComponentType.LIBRARY,
            bom_ref=f"{used['Path']}@{used.get('Version', '')}", purl=_purl(used["Path"], used.get("Version")),
            hashes=[HashType(alg=HashAlgorithm.SHA_256, content=digest)] if digest else None,
            properties=extra or None))
    tools = ToolRepository(components=[Component(name="buildlib", version=tool_version,
                                                 type=ComponentType.APPLICATION)])
    bom = Bom(
        # A serial number derived from the binary: the same binary gives the same document.
        serial_number=uuid.uuid5(uuid.NAMESPACE_URL, f"urn:sha256:{sha256}"),
        metadata=BomMetaData(component=root, tools=tools, timestamp=dt.datetime.fromtimestamp(epoch, dt.UTC)),
        components=libraries,
    )
    bom.register_dependency(root, libraries)
    text = JsonV1Dot6(bom).output_as_string(indent=2)
    problem = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    if problem is not None:
        raise ToolError(f"the SBOM of {name} ({platform}) does not validate against CycloneDX {SPEC}: {problem}")
    return text + "\n"
