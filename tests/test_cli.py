"""The pyg-ext command line: info, tour, datasets, bench and its errors."""

from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path

import pytest

from pyg_ext import bench
from pyg_ext.cli import main


def run_cli(*args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-m', 'pyg_ext', *args],
                          capture_output=True, text=True, timeout=timeout)


def test_info() -> None:
    out = run_cli('info')
    assert out.returncode == 0, out.stderr
    for word in ('torch_geometric', 'optional backends', 'torch threads',
                 'device', 'torch-scatter'):
        assert word in out.stdout


def test_tour_runs_every_section() -> None:
    from pyg_ext.tour import list_sections
    out = run_cli('tour', '--quick')
    assert out.returncode == 0, out.stdout + out.stderr
    n = len(list_sections())
    assert f'tour: {n}/{n} sections ok' in out.stdout


@pytest.mark.parametrize('args,msg', [
    (('bench', 'no_such_suite'), "unknown bench suite 'no_such_suite'"),
    (('bench',), 'bench needs a suite name'),
    (('datasets', '--root', '/no/such/dir'), 'does not exist'),
    (('tour', '--sections', 'nope'), 'unknown tour section'),
])
def test_bad_input_one_line_error(args: tuple[str, ...], msg: str) -> None:
    out = run_cli(*args)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and 'Traceback' not in out.stderr, out.stderr
    assert msg in lines[0]


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert 'COMMAND' in capsys.readouterr().out


def test_datasets_lists_registry(tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    raw = tmp_path / 'tu' / 'MUTAG' / 'raw'
    raw.mkdir(parents=True)  # present means the files TUDataset reads
    for f in ('MUTAG_A.txt', 'MUTAG_graph_indicator.txt'):
        (raw / f).write_text('1, 2\n')
    (tmp_path / 'tu' / 'PTC_MR' / 'raw').mkdir(parents=True)  # empty
    assert main(['datasets', '--root', str(tmp_path), '--family', 'tu']) == 0
    out = capsys.readouterr().out
    assert any(line.startswith('MUTAG') and line.endswith('yes')
               for line in out.splitlines())
    assert any(line.startswith('PTC_MR') and line.endswith('-')
               for line in out.splitlines())


@pytest.fixture
def fake_suite(monkeypatch: pytest.MonkeyPatch) -> str:
    """Register a throwaway suite to exercise the bench framework."""
    mod = types.ModuleType('pyg_ext.bench.fake')
    mod.__doc__ = 'A fake suite for tests.'

    def add_arguments(parser):  # type: ignore[no-untyped-def]
        parser.add_argument('--dataset', default='MUTAG')

    def run(args):  # type: ignore[no-untyped-def]
        from pyg_ext.datasets import get_spec
        get_spec(args.dataset)
        vals = [float(s) for s in args.seeds]
        print(f'value: {bench.fmt_mean_std(vals)}')
        return {'seeds': args.seeds, 'root': args.root}

    mod.add_arguments, mod.run = add_arguments, run
    monkeypatch.setitem(sys.modules, 'pyg_ext.bench.fake', mod)
    monkeypatch.setattr(bench, 'list_suites',
                        lambda: ['fake'])
    return 'fake'


def test_bench_common_options(fake_suite: str, tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / 'out' / 'r.json'
    assert main(['bench', fake_suite, '--seeds', '3', '--root',
                 str(tmp_path), '--json', str(path)]) == 0
    out = capsys.readouterr().out
    assert 'value: 1.000 ± 1.000' in out
    payload = json.loads(path.read_text())
    assert payload['result']['seeds'] == [0, 1, 2]
    assert payload['environment']['torch']
    assert main(['bench', fake_suite, '--seeds', '4,9']) == 0
    assert 'value: 6.500 ± 3.536' in capsys.readouterr().out


def test_bench_errors(fake_suite: str,
                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main(['bench', fake_suite, '--dataset', 'NOPE']) == 2
    assert "unknown dataset 'NOPE'" in capsys.readouterr().err
    assert main(['bench', fake_suite, '--root', '/no/such']) == 2
    assert 'does not exist' in capsys.readouterr().err
    assert main(['bench', fake_suite, '--seeds', '0']) == 2
    assert '--seeds' in capsys.readouterr().err
    assert main(['bench', '--list']) == 0
    assert 'fake' in capsys.readouterr().out


def test_common_helpers() -> None:
    assert bench.mean_std([1.0]) == (1.0, 0.0)
    m, s = bench.mean_std([1.0, 2.0, 3.0])
    assert (m, s) == (2.0, 1.0)
    table = bench.format_table([{'a': 1, 'b': 0.5}, {'a': 22, 'b': 'x'}])
    assert table.splitlines()[0] == '| a  | b   |'
    times = bench.time_fn(lambda: None, repeat=3, warmup=0)
    assert len(times) == 3 and all(t >= 0 for t in times)


def test_bench_help_lists_suites() -> None:
    out = run_cli('bench', '--help')
    assert out.returncode == 0, out.stderr
    assert 'usage: pyg-ext bench' in out.stdout
    assert 'wis ' in out.stdout and 'metrics ' in out.stdout


def test_bench_json_path_checked_before_the_run(
        fake_suite: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    ran = []
    monkeypatch.setattr(sys.modules['pyg_ext.bench.fake'], 'run',
                        lambda args: ran.append(1) or {})
    assert main(['bench', fake_suite, '--json', str(tmp_path)]) == 2
    assert 'is a directory' in capsys.readouterr().err
    blocker = tmp_path / 'file'
    blocker.write_text('')
    assert main(['bench', fake_suite, '--json',
                 str(blocker / 'sub' / 'r.json')]) == 2
    err = capsys.readouterr().err
    assert '--json' in err and 'not writable' in err
    assert not ran
    # a writable path is not left behind as an empty file by the check
    ok = tmp_path / 'new.json'
    assert main(['bench', fake_suite, '--json', str(ok)]) == 0
    assert ok.exists() and ran == [1]


def test_wheel_metadata_has_license() -> None:
    tomllib = pytest.importorskip('tomllib')  # Python >= 3.11

    root = Path(__file__).resolve().parents[1]
    meta = tomllib.loads((root / 'pyproject.toml').read_text())['project']
    assert meta['license'] == 'MIT'
    assert 'LICENSE' in meta['license-files']
    assert 'MIT License' in (root / 'LICENSE').read_text()
    assert any(c.startswith('Programming Language :: Python :: 3.1')
               for c in meta['classifiers'])


@pytest.mark.parametrize('suite', bench.list_suites())
def test_every_suite_help_shows_defaults(
        suite: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(['bench', suite, '--help'])
    assert info.value.code == 0
    out = ' '.join(capsys.readouterr().out.split())
    assert f'usage: pyg-ext bench {suite}' in out
    # --seeds: the common default, or the suite's own help for it
    import importlib
    helps = getattr(importlib.import_module(f'pyg_ext.bench.{suite}'),
                    'COMMON_HELP', {})
    want = helps.get('seeds', '(default: 3)')
    assert ' '.join(want.split()) in out if 'seeds' in helps else want in out
    assert '--progress' in out


def test_bad_suite_option_returns_2_with_one_line(
        capsys: pytest.CaptureFixture[str]) -> None:
    # in-process: the suite parser raises instead of exiting
    assert main(['bench', 'eigen', '--graphs', '-3']) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and '--graphs' in err[0] and '>= 1' in err[0]
    assert main(['bench', 'metrics', '--n-jobs', '0']) == 2
    err = capsys.readouterr().err
    assert '--n-jobs' in err and '-1' in err
