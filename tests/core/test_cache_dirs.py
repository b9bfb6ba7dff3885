from crayfis.cache_dirs import is_writable_dir


def test_a_directory_that_can_be_made_is_writable(tmp_path):
    target = tmp_path / "a" / "b"
    assert is_writable_dir(target)
    assert target.is_dir()


def test_a_directory_below_a_file_is_not(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert not is_writable_dir(blocker / "cache")
