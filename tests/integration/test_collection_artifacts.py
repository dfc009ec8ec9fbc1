"""What leaves the repository: the Galaxy tarball (build_ignore) and the AWX execution and decision
environments, which install that tarball (ansible-builder create, no container engine needed)."""
import pathlib
import shutil
import subprocess
import tarfile

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
AWX = ROOT / "extensions" / "awx"
DEFINITIONS = ["execution-environment.yml", "decision-environment.yml"]


@pytest.fixture(scope="module")
def tarball(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(["ansible-galaxy", "collection", "build", "--force", "--output-path", str(out), str(ROOT)],
                   check=True, capture_output=True, text=True)
    (built,) = out.glob("kubeovn-live_migration-*.tar.gz")
    return built


def test_the_tarball_leaves_out_what_runs_only_in_the_repository(tarball):
    with tarfile.open(tarball) as tar:
        names = set(tar.getnames())
    for left_out in ["tests", "bench", "scripts", "extensions/molecule", ".ci", "requirements-dev.txt"]:
        assert not [n for n in names if n == left_out or n.startswith(left_out + "/")], left_out
    # What the README's "Installed from Galaxy" section points at.
    for shipped in ["README.md", "CHANGELOG.rst", "requirements.txt", "extensions/eda/inventory.yml",
                    "extensions/eda/rulebooks/live_migration.yml", "docs/real-cluster.md", "docs/awx.md",
                    "playbooks/live_migrate.yml", "meta/execution-environment.yml"]:
        assert shipped in names


@pytest.mark.parametrize("definition", DEFINITIONS)
def test_ansible_builder_create_installs_the_built_tarball(tarball, definition, tmp_path):
    """The definition, as docs/awx.md builds it: the tarball in extensions/awx/dist, the collection
    installed from it in the image (no Galaxy), on a base image that is not end-of-life."""
    spec = yaml.safe_load((AWX / definition).read_text())
    (source,) = [f["src"] for f in spec["additional_build_files"]]
    assert pathlib.PurePosixPath(source).name == tarball.name, "the definition names another version"
    assert "fedora" not in spec["images"]["base_image"]["name"]
    shutil.copy(AWX / definition, tmp_path / definition)
    (tmp_path / pathlib.PurePosixPath(source).parent).mkdir(parents=True)
    shutil.copy(tarball, tmp_path / source)
    context = tmp_path / "context"
    subprocess.run(["ansible-builder", "create", "-f", str(tmp_path / definition), "-c", str(context),
                    "--output-filename", "Containerfile"], check=True, capture_output=True, text=True)
    containerfile = (context / "Containerfile").read_text()
    requirements = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    (collection,) = requirements["collections"]
    assert collection["type"] == "file"
    assert (context / "_build" / collection["name"]).read_bytes() == tarball.read_bytes()
    assert "COPY _build /build" in containerfile
    assert "ansible-galaxy collection install" in containerfile and "-r requirements.yml" in containerfile
