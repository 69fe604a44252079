"""In CI a missing pose model, sample video or dev dependency fails the run (conftest hook)."""

pytest_plugins = ["pytester"]


def test_in_ci_a_missing_model_fails_instead_of_skipping(pytester, monkeypatch):
    from pathlib import Path

    pytester.makeconftest((Path(__file__).parent / "conftest.py").read_text())
    pytester.makepyfile(
        """
        import pytest

        def test_model():
            pytest.skip("BlazePose models not fetched: run `relsar-models fetch blazepose`")

        @pytest.mark.skipif(True, reason="sample media not fetched")
        def test_video():
            pass

        def test_other():
            pytest.skip("only on Windows")
        """
    )
    monkeypatch.setenv("CI", "1")
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(failed=1, errors=1, skipped=1)
    monkeypatch.delenv("CI")
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(skipped=3)
