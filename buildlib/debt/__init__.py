"""The tech-debt scorecard (`invoke debt`): a number that goes up as the repository gets harder to change.

The rules (points per item):

- +1 per TODO or FIXME marker in a comment of a Go or Python source file;
- +3 per Go package whose statement coverage (``go test -coverprofile``) is
  under ``debt.min_coverage`` percent (70); a package without tests is 0%;
- +3 per Go package whose tests fail, do not build, or run longer than
  ``debt.test_timeout`` seconds (120): its coverage is not measured, and the
  card says so, so a number never hides what was left out;
- +2 per direct dependency of go.mod whose required version was published
  more than ``debt.max_dependency_age_months`` (6) months before the newest
  release, as the module proxy (first entry of ``go env GOPROXY``) tells.
  When that cannot be known (no proxy, proxy unreachable, module unknown to
  it) the item is "unknown": it has no points, and is listed as such.

A score above ``debt.threshold`` (20) fails ``invoke debt``.

Modules: ``card`` (the settings, the score and its table), ``item`` (one line of it),
``markers`` (a comment reader for Go and Python), ``coverage`` (``go test
-coverprofile`` and its failures), ``dependencies`` (the module proxy's release dates).
"""
