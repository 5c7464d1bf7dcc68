"""`pyg-ext bench` error paths a first-time user hits: a dataset that is
missing offline, invalid option values, help text and progress output.

CLI error paths run as subprocesses (``python -m pyg_ext ...``) and must exit
with status 2 and exactly one stderr line that names the problem, never a
traceback. The network is blocked in those subprocesses (a
``sitecustomize`` that makes name resolution and connections fail at once),
so the tests neither need nor wait on the internet.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import urllib.error
from pathlib import Path

import pytest
import torch

from pyg_ext import bench
from pyg_ext.bench import _common

REPO = Path(__file__).resolve().parents[1]

_NO_NETWORK = '''
import socket


def _offline(*args, **kwargs):
    raise socket.gaierror(-2, 'Name or service not known (network blocked '
                          'by the test)')


socket.getaddrinfo = _offline
socket.create_connection = _offline
socket.socket.connect = _offline
'''


@pytest.fixture(scope='module')
def offline_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of a subprocess without network access."""
    site = tmp_path_factory.mktemp('offline_site')
    (site / 'sitecustomize.py').write_text(_NO_NETWORK)
    env = dict(os.environ)
    # PyG prints its 'Downloading <url>' notice only outside pytest: show it
    env.pop('PYTEST_CURRENT_TEST', None)
    env['PYTHONPATH'] = os.pathsep.join(
        [str(site), str(REPO), *filter(None, [env.get('PYTHONPATH')])])
    env['OMP_NUM_THREADS'] = '1'
    env.pop('PYG_EXT_DATA', None)
    return env


def run_cli(env: dict[str, str], *args: str, timeout: int = 180
            ) -> tuple[subprocess.CompletedProcess, float]:
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, '-m', 'pyg_ext', *args],
                         capture_output=True, text=True, timeout=timeout,
                         env=env, cwd=str(REPO))
    return out, time.perf_counter() - t0


def one_line_error(out: subprocess.CompletedProcess) -> str:
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2, (out.returncode, out.stderr[-2000:])
    assert 'Traceback' not in out.stderr, out.stderr[-2000:]
    assert len(lines) == 1, out.stderr[-2000:]
    assert lines[0].startswith('pyg-ext: error: '), lines[0]
    return lines[0]


# --- a dataset missing offline ----------------------------------------------

@pytest.mark.parametrize('argv,name', [
    (('metrics', '--dataset', 'MUTAG'), 'MUTAG'),
    (('ogb', '--dataset', 'ogbg-molbace'), 'ogbg-molbace'),
    (('wis', '--dataset', 'PubMed'), 'PubMed'),
    (('heterophily', '--dataset', 'roman-empire', '--model', 'gcn'),
     'roman_empire'),
    (('optgnn', '--dataset', 'MUTAG', '--max-graphs', '2'), 'MUTAG'),
])
def test_dataset_missing_offline_is_one_line(
        offline_env: dict[str, str], tmp_path: Path,
        argv: tuple[str, ...], name: str) -> None:
    if argv[0] == 'ogb':
        pytest.importorskip('ogb')
    root = tmp_path / 'empty_root'
    root.mkdir()
    out, secs = run_cli(offline_env, 'bench', *argv, '--root', str(root))
    line = one_line_error(out)
    low = line.lower()
    assert name in line, line
    assert str(root) in line, line  # where the files are expected
    assert 'download' in low and 'failed' in low, line
    assert 'missing' in low or 'not under' in low, line
    assert secs < 90, f'{secs:.0f} s: the download attempt must not hang'
    # no half-made dataset folder that changes the next attempt's error
    again, _ = run_cli(offline_env, 'bench', *argv, '--root', str(root))
    assert one_line_error(again) == line


def test_dataset_errors_holds_back_download_notices(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    created = tmp_path / 'tu' / 'X'
    with pytest.raises(_common.DatasetMissingError) as info:
        with _common.dataset_errors('X', tmp_path / 'tu', created=created):
            created.joinpath('raw').mkdir(parents=True)
            print('Downloading https://example.invalid/X.zip',
                  file=sys.stderr)
            raise urllib.error.URLError('no network')
    msg = str(info.value)
    assert "dataset 'X' is missing under" in msg and 'no network' in msg
    assert str(created) in msg
    assert 'Downloading' not in capsys.readouterr().err
    assert not created.exists()  # the empty folder made by the attempt
    # a successful load shows the notice; other errors pass through
    with _common.dataset_errors('X', tmp_path):
        print('Downloading https://example.invalid/X.zip', file=sys.stderr)
    assert 'Downloading' in capsys.readouterr().err
    with pytest.raises(KeyError):
        with _common.dataset_errors('X', tmp_path):
            raise KeyError('not a download problem')
    with pytest.raises(PermissionError):  # e.g. a read-only root
        with _common.dataset_errors('X', tmp_path):
            raise PermissionError(13, 'Permission denied')


# --- invalid option values --------------------------------------------------

def _not_a_checkpoint(tmp: Path) -> str:
    path = tmp / 'model.pt'
    path.write_text('this is not a checkpoint\n')
    return str(path)


@pytest.mark.parametrize('argv,needle', [
    (('eigen', '--graphs', '0'), '--graphs'),
    (('eigen', '--min-nodes', '40', '--max-nodes', '32', '--graphs', '2'),
     '--min-nodes'),
    (('eigen', '--k', 'abc'), '--k'),
    (('scatter', '--device', 'cuda'), '--device'),
    (('scatter', '--sizes', '1e3,abc'), '--sizes'),
    (('scatter', '--ops', 'gemm'), '--ops'),
    (('optgnn', '--checkpoint', '{ckpt}', '--dataset', 'er_50_100'),
     '--checkpoint'),
    (('optgnn', '--er-p', '1.5'), '--er-p'),
    (('metrics', '--ref-pairs', '0'), '--ref-pairs'),
    (('metrics', '--layers', 'abc'), '--layers'),
    (('metrics', '--weights', 'abc'), '--weights'),
    (('metrics', '--skip', 'svm,nope'), '--skip'),
    (('wis', '--layers', 'abc'), '--layers'),
    (('wis', '--ratios', '0,1.5'), '--ratios'),
    (('ogb', '--pe', 'lap,foo'), '--pe'),
    (('ogb', '--dropout', '1.0'), '--dropout'),
    (('heterophily', '--dataset', 'questions', '--model', 'gcn', '--steps',
      '0'), '--steps'),  # 0 used to mean the default, 1000 steps
    (('heterophily', '--dataset', 'questions', '--layers', '2,x'),
     '--layers'),
    (('unifl', '--train-sizes', '200,5000'), '--train-sizes'),
    (('csl', '--epochs', 'abc'), '--epochs'),
    (('csl', '--epochs', '-1'), '--epochs'),  # ran an untrained model
    (('csl', '--seeds', '1,1'), '--seeds'),  # repeated the same run
    (('eigen', '--seeds', 'x'), '--seeds'),
    (('eigen', '--no-such-option'), '--no-such-option'),
])
def test_bad_option_is_one_line_naming_it(
        offline_env: dict[str, str], tmp_path: Path,
        argv: tuple[str, ...], needle: str) -> None:
    if argv[:3] == ('scatter', '--device', 'cuda') and \
            torch.cuda.is_available():
        pytest.skip('CUDA is available here')
    argv = tuple(a.format(ckpt=_not_a_checkpoint(tmp_path)) for a in argv)
    out, _ = run_cli(offline_env, 'bench', *argv)
    line = one_line_error(out)
    assert needle in line, line
    for noise in ('max() arg', 'AssertionError', 'UnpicklingError: Weights '
                  'only load failed. In PyTorch'):
        assert noise not in line, line


def test_option_types_name_the_problem() -> None:
    T = argparse.ArgumentTypeError
    assert _common.positive_int('3') == 3
    assert _common.nonneg_int('0') == 0
    assert _common.positive_int_list('1e4,10') == [10000, 10]
    assert _common.float_list('0.5, 1') == [0.5, 1.0]
    assert _common.choice_list(('a', 'b'), allow_all=True)('all') == ['a',
                                                                     'b']
    assert _common.choice_list(('a',), allow_empty=True)('') == []
    for fn, bad in [(_common.positive_int, '0'), (_common.positive_int, 'x'),
                    (_common.nonneg_int, '-1'), (_common.int_list, '1,,x'),
                    (_common.float_list, 'nan'), (_common.float_list, ''),
                    (_common.probability, '1.5'),
                    (_common.dropout_rate, '1'),
                    (_common.positive_float, '0'),
                    (_common.choice_list(('a', 'b'), what='op'), 'a,c')]:
        with pytest.raises(T):
            fn(bad)
    with pytest.raises(T, match="unknown op 'c'"):
        _common.choice_list(('a', 'b'), what='op')('c')
    # Python callers get a ValueError naming the option, not SystemExit
    with pytest.raises(bench.BenchArgumentError, match='--graphs'):
        bench.run_suite('eigen', ['--graphs', '0'])


# --- help -------------------------------------------------------------------

def test_every_suite_option_has_help_showing_its_default() -> None:
    missing = []
    for name in bench.list_suites():
        parser = bench.build_parser(name)
        parser.format_help()  # every help string must format
        fmt = parser._get_formatter()
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            text = fmt._expand_help(action) if action.help else ''
            opt = f"{name} {'/'.join(action.option_strings)}"
            if not text.strip():
                missing.append(f'{opt}: no help')
            elif (action.nargs != 0 and not action.required
                    and 'default' not in text.lower()):
                missing.append(f'{opt}: help does not show the default')
    assert not missing, '\n'.join(missing)


def test_help_shows_concrete_defaults() -> None:
    text = bench.build_parser('eigen').format_help()
    assert '(default: 1000)' in ' '.join(text.split())
    text = ' '.join(bench.build_parser('heterophily').format_help().split())
    assert '(default: 1000; --quick: 80)' in text


# --- progress ---------------------------------------------------------------

def test_progress_shows_a_bar_for_eigen_and_scatter(
        offline_env: dict[str, str]) -> None:
    quiet, _ = run_cli(offline_env, 'bench', 'eigen', '--graphs', '3',
                       '--seeds', '2')
    assert quiet.returncode == 0, quiet.stderr[-2000:]
    assert 'eigen seeds' not in quiet.stderr
    out, _ = run_cli(offline_env, 'bench', 'eigen', '--graphs', '3',
                     '--seeds', '2', '--progress')
    assert out.returncode == 0, out.stderr[-2000:]
    assert 'eigen seeds' in out.stderr and '2/2' in out.stderr
    out, _ = run_cli(offline_env, 'bench', 'scatter', '--device', 'cpu',
                     '--sizes', '200', '--degrees', '4', '--features', '2',
                     '--dists', 'uniform,power', '--reduces', 'sum',
                     '--ops', 'segment', '--seeds', '1', '--progress')
    assert out.returncode == 0, out.stderr[-2000:]
    assert 'scatter cases' in out.stderr and '2/2' in out.stderr


def test_heterophily_prints_progress_lines_when_not_a_tty(
        offline_env: dict[str, str], tmp_path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    try:
        from test_heterophily_datasets import write_npz
    finally:
        sys.path.pop(0)
    write_npz(tmp_path / 'heterophilous', 'questions', n=40, c=2, e=80)
    argv = ['bench', 'heterophily', '--dataset', 'questions', '--model',
            'gcn', '--quick', '--steps', '6', '--hidden', '8', '--heads',
            '2', '--splits', '1', '--root', str(tmp_path)]
    out, _ = run_cli(offline_env, *argv, '--log-every', '1e-9')
    assert out.returncode == 0, out.stderr[-2000:]
    steps = [ln for ln in out.stdout.splitlines() if ': step ' in ln]
    assert len(steps) >= 3, out.stdout
    assert 'gcn L=2 split 0: step ' in steps[0]
    assert all('val ' in ln and 'best ' in ln and 's/step' in ln
               for ln in steps)
    out, _ = run_cli(offline_env, *argv, '--log-every', '0')
    assert out.returncode == 0, out.stderr[-2000:]
    assert ': step ' not in out.stdout


def test_step_reporter(capsys: pytest.CaptureFixture[str]) -> None:
    from pyg_ext.bench.heterophily import StepReporter
    hist = torch.zeros(4, 2, dtype=torch.float64)
    hist[:, 0] = torch.tensor([0.5, 0.9, 0.7, 0.8])
    rep = StepReporter('m', 4, every=1e-9)
    for step in range(1, 5):
        rep(step, hist)
    rep.close()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4
    # at step 4: current validation 80.00, best 90.00 at step 2
    assert 'step 4/4, val 80.00, best 90.00 (step 2)' in lines[-1]
    rep = StepReporter('m', 4, every=0)
    rep(1, hist)
    assert capsys.readouterr().out == ''
    # on a terminal (--progress): a bar over the steps instead of lines
    rep = StepReporter('m', 4, every=1e-9, bar=True)
    for step in range(1, 5):
        rep(step, hist)
    assert rep.bar is not None and rep.bar.n == 4
    assert 'best=90.00' in rep.bar.postfix and 'val=80.00' in rep.bar.postfix
    rep.close()
    cap = capsys.readouterr()
    assert cap.out == '' and 'm:' in cap.err


def test_progress_defaults_to_stderr_being_a_terminal(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from pyg_ext import bench
    parser = bench.build_parser('eigen')
    for tty, argv, want in ((True, [], True), (False, [], False),
                            (True, ['--no-progress'], False),
                            (False, ['--progress'], True)):
        monkeypatch.setattr(bench, '_stderr_is_terminal', lambda t=tty: t)
        args = bench.prepare_args(parser.parse_args(argv))
        assert args.progress is want, (tty, argv)


def test_unknown_top_level_option_is_named(
        offline_env: dict[str, str]) -> None:
    # before a command: used to print the whole help without naming it
    out, _ = run_cli(offline_env, '--bogus')
    assert out.returncode == 2, out.stderr
    assert 'Traceback' not in out.stderr
    assert out.stderr.strip().splitlines()[-1] == (
        'pyg-ext: error: unrecognized arguments: --bogus')


def test_dataset_download_failure_is_a_file_not_found_naming_it(
        tmp_path: Path) -> None:
    import socket

    from pyg_ext.datasets import get_dataset, get_spec
    spec = get_spec('MUTAG')

    def offline(folder: str, name: str, **kw: object) -> None:
        os.makedirs(os.path.join(folder, name, 'raw'), exist_ok=True)
        raise socket.gaierror(-2, 'Name or service not known')

    original = spec.loader
    object.__setattr__(spec, 'loader', offline)  # a frozen dataclass
    try:
        with pytest.raises(FileNotFoundError, match=r"'MUTAG' is not under"):
            get_dataset('MUTAG', tmp_path)
    finally:
        object.__setattr__(spec, 'loader', original)
    assert not any(tmp_path.iterdir())  # no half-made folders left
