"""`invoke release`: archives, checksums, SBOMs, a signature and deb/rpm packages in dist/."""
