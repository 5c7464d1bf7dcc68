"""Learnable encoders of Laplacian eigenpairs: LapPE, SignNet, BasisNet, SPE.

All take the attributes written by :class:`pyg_ext.transforms.AddEigenPE`
(``eigvecs [N, k]``, ``eigvals [B, k]``, ``eig_mask [B, k]``) plus
``edge_index`` and ``batch``, and return node encodings ``[N, out_channels]``
to concatenate to ``x`` or add to node embeddings. Nothing loops over the
graphs of a batch in Python.

Every constructor validates its hyperparameters (``TypeError`` /
``ValueError`` naming the argument) and every ``forward`` its inputs through
:func:`pyg_ext.nn.pe._utils.check_pe_inputs`: ``eigvecs`` and ``eigvals`` must
have exactly ``k`` columns, ``edge_index`` must be ``[2, E]`` with ids in
``[0, N)``, no NaN/inf, ``batch`` ids in ``[0, B)``, ``eig_mask`` of the shape
of ``eigvals``, ``max_num_nodes`` at least the largest graph. The
data-dependent checks (host syncs) are skipped under :func:`torch.compile`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from pyg_ext.nn.pe import _basisnet_ref
from pyg_ext.nn.pe._signnet_spe_ref import (
    PRESET_DEFAULT,
    PRESETS,
    SignNetRefGIN,
    SignNetRefMLP,
    SPERefDeepSets,
    SPERefGIN,
    SPERefMLP,
    _PresetDefault,
)
from pyg_ext.nn.pe._utils import (
    GINStack,
    check_pe_inputs,
    default_batch,
    default_mask,
    graph_positions,
    max_nodes,
    mlp,
    reset_all,
    to_dense,
)
from pyg_ext.utils.eigen import eigenspace_ids
from pyg_ext.utils.validation import (
    check_bool,
    check_choice,
    check_positive_int,
    check_probability,
    check_real,
)


class LapPE(nn.Module):
    r"""Raw Laplacian eigenvectors through an MLP (the common "LapPE"
    baseline; `"Benchmarking Graph Neural Networks"
    <https://arxiv.org/abs/2003.00982>`_). Not sign invariant: during
    training each eigenvector's sign is flipped at random per batch (the
    usual augmentation), never at evaluation.

    Args:
        k (int): number of eigenpairs.
        out_channels (int): size of the node encoding.
        hidden_channels (int, optional): MLP width. (default: :obj:`64`)
        num_layers (int, optional): MLP depth. (default: :obj:`2`)
        use_eigvals (bool, optional): also feed the eigenvalues.
            (default: :obj:`False`)
        random_sign_flip (bool, optional): the training-time augmentation.
            (default: :obj:`True`)

    Raises:
        TypeError / ValueError: a hyperparameter of the wrong type or
        out of range (``k``, the sizes and depths must be ints >= 1); in
        ``forward``, invalid inputs (see the module docstring).
    """

    def __init__(self, k: int, out_channels: int, hidden_channels: int = 64,
                 num_layers: int = 2, use_eigvals: bool = False,
                 random_sign_flip: bool = True) -> None:
        super().__init__()
        k = check_positive_int(k, 'k')
        out_channels = check_positive_int(out_channels, 'out_channels')
        hidden_channels = check_positive_int(hidden_channels,
                                             'hidden_channels')
        num_layers = check_positive_int(num_layers, 'num_layers')
        check_bool(use_eigvals, 'use_eigvals')
        check_bool(random_sign_flip, 'random_sign_flip')
        self.k, self.out_channels = k, out_channels
        self.hidden_channels, self.num_layers = hidden_channels, num_layers
        self.use_eigvals = use_eigvals
        self.random_sign_flip = random_sign_flip
        self.net = mlp(k * (2 if use_eigvals else 1), hidden_channels,
                       out_channels, num_layers)

    def reset_parameters(self) -> None:
        reset_all(self.net)

    def forward(self, eigvecs: Tensor, eigvals: Tensor, edge_index: Tensor,
                batch: Tensor | None = None, eig_mask: Tensor | None = None,
                max_num_nodes: int | None = None) -> Tensor:
        check_pe_inputs(self, self.k, eigvecs, eigvals, edge_index, batch,
                        eig_mask, max_num_nodes, sorted_batch=False)
        batch = default_batch(eigvecs, batch)
        v = eigvecs
        if self.training and self.random_sign_flip:
            sign = torch.randint(0, 2, (1, self.k), device=v.device) * 2 - 1
            v = v * sign.to(v.dtype)
        if self.use_eigvals:
            v = torch.cat([v, eigvals[batch]], dim=-1)
        return self.net(v)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(k={self.k}, '
                f'out_channels={self.out_channels}, '
                f'hidden_channels={self.hidden_channels}, '
                f'num_layers={self.num_layers}, '
                f'use_eigvals={self.use_eigvals}, '
                f'random_sign_flip={self.random_sign_flip})')


class SignNet(nn.Module):
    r"""SignNet from `"Sign and Basis Invariant Networks for Spectral Graph
    Representation Learning" <https://arxiv.org/abs/2202.13013>`_ (Lim et al.,
    ICLR 2023):

    .. math::
        f(v_1, \ldots, v_k) = \rho\big([\phi(v_i, \lambda_i) +
        \phi(-v_i, \lambda_i)]_{i=1}^k\big)

    :math:`\phi` is an MLP on each node's entry (GraphGPS's ``SignNet-MLP``)
    or a GIN over the graph with the ``k`` eigenvectors as independent
    channels (the paper's molecule models); :math:`\rho` an MLP on the
    concatenation over :math:`i` (``'mlp'``) or a DeepSets sum over
    :math:`i` followed by an MLP (``'deepset'``, permutation invariant over
    eigenvectors). Padding eigenvectors (``eig_mask`` false) are zeroed after
    :math:`\phi`. Exactly invariant to sign flips, not to rotations inside
    repeated eigenspaces (use :class:`BasisNet` or :class:`SPE` there).

    ``preset='reference'`` builds the paper's ZINC SignNet instead, whose
    forward equals the authors' code for the same weights
    (``cptq/SignNet-BasisNet``, ``GraphPrediction/layers/deepsigns.py``:
    ``GINDeepSigns`` for ``rho='mlp'``, ``MaskedGINDeepSigns`` for
    ``rho='deepset'``, as built with ``use_bn=True`` by
    ``nets/ZINC_graph_regression/sign_inv_net.py``; ZINC config
    ``k=8, hidden_channels=95, phi_out_channels=4, phi_layers=rho_layers=8,
    dropout=0``): :math:`\phi` = GIN on the eigenvectors only (``eps``
    fixed at 0, 2-layer update MLPs Linear-ReLU-BatchNorm-dropout-Linear,
    dropout + BatchNorm between layers, no activation there); :math:`\rho` =
    MLP with the same layer pattern; padded eigenvectors go through
    :math:`\phi` unmasked for ``rho='mlp'`` (as in the reference), and for
    ``rho='deepset'`` columns ``>= n`` (node count) are zeroed before the
    sum. Building blocks in :mod:`pyg_ext.nn.pe._signnet_spe_ref`.

    Args:
        k (int): number of eigenpairs.
        out_channels (int): size of the node encoding (the reference uses
            ``k``).
        hidden_channels (int, optional): width of :math:`\phi` and
            :math:`\rho`. (default: :obj:`64`)
        phi_out_channels (int, optional): output size of :math:`\phi` per
            eigenvector. (default: :obj:`4`)
        phi_layers (int, optional): depth of :math:`\phi` (at least 2 with
            ``preset='reference'``). (default: :obj:`3`)
        rho_layers (int, optional): depth of :math:`\rho`. (default: :obj:`2`)
        phi (str, optional): ``'mlp'`` or ``'gin'`` (``'gin'`` only with
            ``preset='reference'``). (default: :obj:`'gin'`)
        rho (str, optional): ``'mlp'`` or ``'deepset'``.
            (default: :obj:`'mlp'`)
        use_eigvals (bool, optional): feed :math:`\lambda_i` to :math:`\phi`
            beside each entry. (default: :obj:`True` for ``'pyg_ext'``,
            :obj:`False` for ``'reference'``; passing :obj:`True` with
            ``'reference'`` departs from the reference)
        preset (str, optional): ``'pyg_ext'`` or ``'reference'``.
            (default: :obj:`'pyg_ext'`)
        dropout (float, optional): dropout probability in ``[0, 1)`` of the
            reference layers (``preset='reference'`` only).
            (default: :obj:`0.0`)

    Shapes:
        - **input:** eigvecs :math:`(N, k)`, eigvals :math:`(B, k)`,
          edge_index :math:`(2, E)`, batch :math:`(N)`, eig_mask
          :math:`(B, k)`
        - **output:** :math:`(N, \text{out\_channels})`

    Raises:
        TypeError / ValueError: a hyperparameter of the wrong type or
        out of range (``k``, the sizes and depths must be ints >= 1), an
        unknown ``preset``, ``phi='mlp'`` or ``phi_layers=1`` with
        ``preset='reference'``, ``dropout`` outside ``[0, 1)`` or non-zero
        with ``preset='pyg_ext'``; in ``forward``, invalid inputs (see the
        module docstring).
    """

    def __init__(self, k: int, out_channels: int, hidden_channels: int = 64,
                 phi_out_channels: int = 4, phi_layers: int = 3,
                 rho_layers: int = 2, phi: str = 'gin', rho: str = 'mlp',
                 use_eigvals: bool | _PresetDefault = PRESET_DEFAULT,
                 preset: str = 'pyg_ext', dropout: float = 0.0) -> None:
        super().__init__()
        k = check_positive_int(k, 'k')
        out_channels = check_positive_int(out_channels, 'out_channels')
        hidden_channels = check_positive_int(hidden_channels,
                                             'hidden_channels')
        phi_out_channels = check_positive_int(phi_out_channels,
                                              'phi_out_channels')
        phi_layers = check_positive_int(phi_layers, 'phi_layers')
        rho_layers = check_positive_int(rho_layers, 'rho_layers')
        check_choice(preset, 'preset', PRESETS)
        if use_eigvals is PRESET_DEFAULT:
            use_eigvals = preset == 'pyg_ext'
        check_bool(use_eigvals, 'use_eigvals')
        dropout = check_probability(dropout, 'dropout', allow_one=False)
        if phi not in ('mlp', 'gin'):
            raise ValueError(
                f"SignNet: phi must be 'mlp' or 'gin', got {phi!r}")
        if rho not in ('mlp', 'deepset'):
            raise ValueError(f"SignNet: rho must be 'mlp' or 'deepset', got "
                             f'{rho!r}')
        if preset == 'reference':
            if phi != 'gin':
                raise ValueError("SignNet: preset='reference' needs "
                                 f"phi='gin' (the paper's GIN), got {phi!r}")
            if phi_layers < 2:
                raise ValueError("SignNet: phi_layers must be >= 2 with "
                                 "preset='reference' (its GIN has an input "
                                 f'and an output layer), got {phi_layers}')
        elif dropout != 0.0:
            raise ValueError("SignNet: dropout is only used with "
                             f"preset='reference', got dropout={dropout}")
        self.k, self.out_channels = k, out_channels
        self.hidden_channels = hidden_channels
        self.phi_out_channels = phi_out_channels
        self.phi_layers, self.rho_layers = phi_layers, rho_layers
        self.phi_type, self.rho_type = phi, rho
        self.use_eigvals = use_eigvals
        self.preset, self.dropout = preset, dropout
        in_dim = 2 if use_eigvals else 1
        rho_in = phi_out_channels * (k if rho == 'mlp' else 1)
        if preset == 'reference':
            self.phi: nn.Module = SignNetRefGIN(
                in_dim, hidden_channels, phi_out_channels, phi_layers,
                dropout)
            self.rho: nn.Module = SignNetRefMLP(
                rho_in, hidden_channels, out_channels, rho_layers, dropout)
            return
        if phi == 'gin':
            self.phi = GINStack(in_dim, hidden_channels, phi_out_channels,
                                phi_layers)
        else:
            self.phi = mlp(in_dim, hidden_channels, phi_out_channels,
                           phi_layers)
        self.rho = mlp(rho_in, hidden_channels, out_channels, rho_layers)

    def reset_parameters(self) -> None:
        reset_all(self)

    def _phi(self, x: Tensor, edge_index: Tensor) -> Tensor:
        if self.phi_type == 'gin':
            return self.phi(x, edge_index)
        return self.phi(x)

    def forward(self, eigvecs: Tensor, eigvals: Tensor, edge_index: Tensor,
                batch: Tensor | None = None, eig_mask: Tensor | None = None,
                max_num_nodes: int | None = None) -> Tensor:
        check_pe_inputs(self, self.k, eigvecs, eigvals, edge_index, batch,
                        eig_mask, max_num_nodes, sorted_batch=False)
        batch = default_batch(eigvecs, batch)
        mask = default_mask(eigvals, eig_mask)[batch]  # [N, k]
        v = eigvecs.unsqueeze(-1)  # [N, k, 1]
        if self.use_eigvals:
            lam = eigvals[batch].unsqueeze(-1)
            pos_in, neg_in = torch.cat([v, lam], -1), torch.cat([-v, lam], -1)
        else:
            pos_in, neg_in = v, -v
        h = self._phi(pos_in, edge_index) + self._phi(neg_in, edge_index)
        if self.preset == 'reference':
            # GINDeepSigns: no masking; MaskedGINDeepSigns: columns >= n
            if self.rho_type == 'deepset':
                _, counts = graph_positions(batch, eigvals.size(0))
                col = (torch.arange(self.k, device=h.device).unsqueeze(0)
                       < counts[batch].unsqueeze(1))  # [N, k]
                h = h * col.unsqueeze(-1).to(h.dtype)
        else:
            h = h * mask.unsqueeze(-1).to(h.dtype)  # [N, k, c]
        if self.rho_type == 'mlp':
            h = h.reshape(h.size(0), -1)
        else:
            h = h.sum(1)
        return self.rho(h)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(k={self.k}, '
                f'out_channels={self.out_channels}, '
                f'hidden_channels={self.hidden_channels}, '
                f'phi_out_channels={self.phi_out_channels}, '
                f'phi_layers={self.phi_layers}, rho_layers={self.rho_layers}, '
                f"phi='{self.phi_type}', rho='{self.rho_type}', "
                f'use_eigvals={self.use_eigvals}, '
                f"preset='{self.preset}', dropout={self.dropout})")


#: Defaults of the two ``BasisNet`` presets. ``'reference'`` follows the SPE
#: repository's ZINC config ``configs/zinc/basisNet_gine_pe8.yaml``
#: (``phi_hidden_dims`` = ``mlp_hidden_dims`` = 120, ``n_psi_layers`` = 8).
BASISNET_PRESETS: dict[str, dict[str, Any]] = {
    'pyg_ext': {'hidden_channels': 32, 'ign_channels': 8,
                'phi_out_channels': 8, 'rho_layers': 2,
                'per_multiplicity': 'head'},
    'reference': {'hidden_channels': 120, 'rho_layers': 8,
                  'per_multiplicity': 'full'},
}
#: Depth of the MLP inside each GIN layer of the reference rho
#: (``n_mlp_layers`` in the SPE repository's configs).
BASISNET_REF_MLP_LAYERS = 3


class BasisNet(nn.Module):
    r"""BasisNet from `"Sign and Basis Invariant Networks for Spectral Graph
    Representation Learning" <https://arxiv.org/abs/2202.13013>`_ (Lim et al.,
    ICLR 2023):

    .. math::
        f(V_1, \ldots, V_l) = \rho\big([\phi_{d_i}(V_i V_i^\top),
        \lambda_i]_{i=1}^l\big)

    Eigenvalues are grouped into eigenspaces by consecutive gaps
    (:func:`pyg_ext.utils.eigen.eigenspace_ids`), per graph and vectorised
    over the batch; any multiplicity up to ``k`` is supported (nothing is
    hard-coded). Each per-multiplicity network runs only on the eigenspaces
    of its multiplicity (grouped gather), so ``per_multiplicity='full'``
    costs about as much as ``'head'``. Invariant to any orthogonal change of
    basis inside each eigenspace when ``k`` does not cut one. Two presets:

    * ``preset='pyg_ext'`` (default): :math:`\phi_d` is an IGN on the
      projector :math:`P = V_i V_i^\top`: an entry-wise 2→2 MLP on
      :math:`(P_{jl}, \delta_{jl})`, then the 2→1 pooling basis (diagonal,
      row mean, total mean) and a node-wise MLP; with
      ``per_multiplicity='head'`` the IGN is shared and each multiplicity
      :math:`d` has its own output layer (like the reference ``IGNShared``),
      with ``'full'`` every multiplicity has its own IGN. Every eigenspace
      gives ``phi_out_channels`` features; :math:`\rho` is a node-wise MLP
      on the slots ordered by eigenvalue. Cost
      :math:`O(\#\text{eigenspaces} \cdot N_{max}^2 \cdot
      \text{ign\_channels})`.
    * ``preset='reference'``: the graph-level BasisNet of the SPE repository
      (``Graph-COM/SPE: src/sign_inv_pe.py:BasisInvPE`` with
      ``IGNBasisInv``, ``src/ign.py:IGN2to1``; the same IGN as
      ``cptq/SignNet-BasisNet: LearningFilters/ign.py``). :math:`\phi_d` =
      ``IGN2to1(1, hidden, d)``: a linear 2→1 layer on the five normalised
      contractions of :math:`P` (diagonal, trace, row sums, column sums,
      total sum; :math:`1/n`, :math:`1/n^2`), two 1→1 layers (identity,
      mean), each followed by ReLU and BatchNorm, then
      ``Linear(hidden, hidden)``, ReLU, ``Linear(hidden, d)``: **an
      eigenspace of multiplicity d gives d features**. They are laid out per
      node multiplicity by multiplicity (ascending), eigenvalue by
      eigenvalue, zero-padded to ``k``, followed by the ``k`` eigenvalues
      (zero for padding): ``[N, 2k]``. :math:`\rho` = the reference ``GIN``
      (``rho_layers`` layers, widths ``2k → 2k → out_channels``, each an MLP
      of 3 layers with BatchNorm and width ``hidden_channels``, no
      activation between layers, :math:`\epsilon \sim N(0, 1)`). In
      evaluation mode the output equals the reference forward for the same
      weights (``tests/test_pe_parity_basisnet.py``), with two deliberate
      differences: the reference reshapes its ``[#spaces, d, n]`` IGN output
      with ``reshape(n, -1)``, which mixes the rows of different nodes
      (breaks permutation equivariance); here node ``j`` gets its own
      entries. And in training mode the IGN BatchNorm statistics are taken
      over the batch, not per graph. The five contractions are computed from
      :math:`V` directly (no :math:`n \times n` matrix): cost
      :math:`O(N \cdot k \cdot h^2)`. Only ``per_multiplicity='full'``
      (``IGNBasisInv``) exists for this preset.

    Args:
        k (int): number of eigenpairs.
        out_channels (int): size of the node encoding.
        hidden_channels (int, optional): width of the IGN and :math:`\rho`
            (reference: also the width of the MLPs inside the GIN).
            (default: :obj:`32`; :obj:`120` for ``'reference'``)
        ign_channels (int, optional): channels of the entry-wise 2→2 layer
            (memory scales with it); ``'pyg_ext'`` only.
            (default: :obj:`8`)
        phi_out_channels (int, optional): output per eigenspace;
            ``'pyg_ext'`` only. (default: :obj:`8`)
        rho_layers (int, optional): depth of :math:`\rho` (reference: GIN
            layers). (default: :obj:`2`; :obj:`8` for ``'reference'``)
        per_multiplicity (str, optional): ``'head'`` or ``'full'``.
            (default: :obj:`'head'`; :obj:`'full'` for ``'reference'``)
        eig_tol (float, optional): largest eigenvalue gap inside one
            eigenspace. (default: :obj:`1e-5`)
        preset (str, optional): ``'pyg_ext'`` or ``'reference'``.
            (default: :obj:`'pyg_ext'`)

    Raises:
        TypeError / ValueError: a hyperparameter of the wrong type or
        out of range (``k``, the sizes and depths must be ints >= 1,
        ``eig_tol`` a finite float >= 0, ``preset`` / ``per_multiplicity``
        one of the choices); ``ValueError`` when ``ign_channels`` or
        ``phi_out_channels`` is given with ``preset='reference'`` (unused
        there) or ``per_multiplicity='head'`` with it; in ``forward``,
        invalid inputs (see the module docstring).
    """

    def __init__(self, k: int, out_channels: int,
                 hidden_channels: int | _PresetDefault = PRESET_DEFAULT,
                 ign_channels: int | _PresetDefault = PRESET_DEFAULT,
                 phi_out_channels: int | _PresetDefault = PRESET_DEFAULT,
                 rho_layers: int | _PresetDefault = PRESET_DEFAULT,
                 per_multiplicity: str | _PresetDefault = PRESET_DEFAULT,
                 eig_tol: float = 1e-5, preset: str = 'pyg_ext') -> None:
        super().__init__()
        if not isinstance(preset, str) or preset not in BASISNET_PRESETS:
            raise ValueError('BasisNet: preset must be one of '
                             f'{tuple(BASISNET_PRESETS)}, got {preset!r}')
        defaults = BASISNET_PRESETS[preset]
        if preset == 'reference':
            for name, value in (('ign_channels', ign_channels),
                                ('phi_out_channels', phi_out_channels)):
                if value is not PRESET_DEFAULT:
                    check_positive_int(value, name)
                    raise ValueError(
                        f"BasisNet: {name} is not used by preset='reference'"
                        ' (its IGN for multiplicity d outputs d channels); '
                        'leave it unset')
            ign_channels = phi_out_channels = 1
        args = {'hidden_channels': hidden_channels,
                'ign_channels': ign_channels,
                'phi_out_channels': phi_out_channels,
                'rho_layers': rho_layers,
                'per_multiplicity': per_multiplicity}
        args = {name: defaults[name] if v is PRESET_DEFAULT else v
                for name, v in args.items()}
        per_multiplicity = args['per_multiplicity']
        if per_multiplicity not in ('head', 'full'):
            raise ValueError("BasisNet: per_multiplicity must be 'head' or "
                             f"'full', got {per_multiplicity!r}")
        if preset == 'reference' and per_multiplicity != 'full':
            raise ValueError("BasisNet: preset='reference' supports only "
                             "per_multiplicity='full' (IGNBasisInv), got "
                             f'{per_multiplicity!r}')
        k = check_positive_int(k, 'k')
        out_channels = check_positive_int(out_channels, 'out_channels')
        hidden_channels = check_positive_int(args['hidden_channels'],
                                             'hidden_channels')
        ign_channels = check_positive_int(args['ign_channels'],
                                          'ign_channels')
        phi_out_channels = check_positive_int(args['phi_out_channels'],
                                              'phi_out_channels')
        rho_layers = check_positive_int(args['rho_layers'], 'rho_layers')
        eig_tol = check_real(eig_tol, 'eig_tol', low=0.0)
        self.k, self.out_channels = k, out_channels
        self.hidden_channels, self.ign_channels = hidden_channels, ign_channels
        self.phi_out_channels, self.rho_layers = phi_out_channels, rho_layers
        self.per_multiplicity, self.eig_tol = per_multiplicity, eig_tol
        self.preset = preset
        if preset == 'reference':
            # phi[d - 1] serves multiplicity d and outputs d channels
            self.phi = nn.ModuleList([
                _basisnet_ref.EquivariantIGN(hidden_channels, d)
                for d in range(1, k + 1)])
            self.rho = _basisnet_ref.ReferenceGIN(
                2 * k, 2 * k, out_channels, rho_layers, hidden_channels,
                BASISNET_REF_MLP_LAYERS)
            return
        n_ign = 1 if per_multiplicity == 'head' else k
        self.entry = nn.ModuleList([mlp(2, ign_channels, ign_channels, 2)
                                    for _ in range(n_ign)])
        self.node = nn.ModuleList([
            mlp(3 * ign_channels, hidden_channels, hidden_channels, 2,
                act_last=True) for _ in range(n_ign)])
        # one output layer per multiplicity d = 1..k (index 0 unused)
        self.head_weight = nn.Parameter(
            torch.empty(k + 1, hidden_channels, phi_out_channels))
        self.head_bias = nn.Parameter(torch.empty(k + 1, phi_out_channels))
        self.rho = mlp(k * (phi_out_channels + 1), hidden_channels,
                       out_channels, rho_layers)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.preset == 'reference':
            for m in [*self.phi, self.rho]:
                m.reset_parameters()
            return
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.LayerNorm)):
                m.reset_parameters()
        bound = self.hidden_channels ** -0.5
        nn.init.uniform_(self.head_weight, -bound, bound)
        nn.init.uniform_(self.head_bias, -bound, bound)

    def _ign(self, i: int, P: Tensor, eye: Tensor, pair_mask: Tensor,
             n_inv: Tensor) -> Tensor:
        # P [E, n, n] (one row per eigenspace), pair_mask [E, n, n, 1],
        # n_inv [E]; returns [E, n, hidden]
        x = torch.stack([P, eye.expand_as(P)], dim=-1)
        h = self.entry[i](x) * pair_mask  # [E, n, n, c]
        diag = h.diagonal(dim1=1, dim2=2).transpose(-1, -2)  # [E, n, c]
        row = h.sum(2) * n_inv.view(-1, 1, 1)
        tot = h.sum((1, 2)) * n_inv.view(-1, 1) ** 2
        tot = tot.unsqueeze(1).expand_as(row)
        return self.node[i](torch.cat([diag, row, tot], dim=-1))

    def forward(self, eigvecs: Tensor, eigvals: Tensor, edge_index: Tensor,
                batch: Tensor | None = None, eig_mask: Tensor | None = None,
                max_num_nodes: int | None = None) -> Tensor:
        max_num_nodes = check_pe_inputs(self, self.k, eigvecs, eigvals,
                                        edge_index, batch, eig_mask,
                                        max_num_nodes)
        batch = default_batch(eigvecs, batch)
        B, k = eigvals.shape
        mask = default_mask(eigvals, eig_mask)
        pos, counts = graph_positions(batch, B)
        gid = eigenspace_ids(eigvals, mask, self.eig_tol)
        G = nn.functional.one_hot(gid, k).to(eigvecs.dtype)
        G = G * mask.unsqueeze(-1).to(eigvecs.dtype)  # [B, slot, group]
        mult = G.sum(1)  # [B, group]
        if self.preset == 'reference':
            return self._forward_reference(eigvecs, eigvals, edge_index,
                                           batch, mask, counts, G, mult)
        n = max_nodes(counts, max_num_nodes)
        V = to_dense(eigvecs, batch, pos, B, n)  # [B, n, k]
        lam = (G * eigvals.unsqueeze(-1)).sum(1) / mult.clamp_min(1)
        P = torch.einsum('bik,bks,bjk->bsij', V, G, V)  # [B, S, n, n]
        node_mask = (torch.arange(n, device=V.device).unsqueeze(0)
                     < counts.unsqueeze(1)).to(V.dtype)  # [B, n]
        pair_mask = (node_mask.unsqueeze(2) * node_mask.unsqueeze(1))
        eye = torch.eye(n, dtype=V.dtype, device=V.device)
        n_inv = 1.0 / counts.clamp_min(1).to(V.dtype)
        # grouped gather: only the eigenspaces that exist, and with 'full'
        # each IGN only on the eigenspaces of its multiplicity
        sb, ss = (mult > 0).nonzero(as_tuple=True)  # [E]
        d_e = mult[sb, ss].long().clamp(max=k)
        P_e, pm_e, ninv_e = P[sb, ss], pair_mask[sb].unsqueeze(-1), n_inv[sb]
        if self.per_multiplicity == 'head':
            h = self._ign(0, P_e, eye, pm_e, ninv_e)
        else:
            order = torch.argsort(d_e, stable=True)
            uniq, sizes = torch.unique_consecutive(d_e[order],
                                                   return_counts=True)
            parts = []
            for d, idx in zip(uniq.tolist(),
                              order.split(sizes.tolist())):
                parts.append(self._ign(d - 1, P_e[idx], eye, pm_e[idx],
                                       ninv_e[idx]))
            h = torch.cat(parts, 0) if parts else P_e.new_zeros(
                0, n, self.hidden_channels)
            h = h[torch.argsort(order)]  # back to the order of (sb, ss)
        out_e = torch.einsum('enh,eho->eno', h, self.head_weight[d_e]) \
            + self.head_bias[d_e].unsqueeze(1)  # [E, n, out]
        out = out_e.new_zeros(B, k, n, self.phi_out_channels).index_put(
            (sb, ss), out_e)
        valid = (mult > 0).to(V.dtype)  # [B, S]
        lam_feat = (lam * valid).view(B, k, 1, 1).expand(B, k, n, 1)
        feats = torch.cat([out, lam_feat], dim=-1)  # [B, S, n, out+1]
        feats = feats.permute(0, 2, 1, 3).reshape(B, n, -1)
        enc = self.rho(feats)  # [B, n, out_channels]
        return enc[batch, pos]

    def _forward_reference(self, eigvecs: Tensor, eigvals: Tensor,
                           edge_index: Tensor, batch: Tensor, mask: Tensor,
                           counts: Tensor, G: Tensor, mult: Tensor) -> Tensor:
        inv_n = 1.0 / counts.clamp_min(1).to(eigvecs.dtype)
        basis = _basisnet_ref.projector_contractions(eigvecs, batch, G, inv_n)
        feats = _basisnet_ref.run_ign_grouped(self.phi, basis, batch,
                                              mult.long(), inv_n)  # [N, k]
        lam = (eigvals * mask.to(eigvals.dtype))[batch]  # [N, k]
        return self.rho(torch.cat([feats, lam], dim=-1), edge_index)

    def __repr__(self) -> str:
        if self.preset == 'reference':
            return (f'{self.__class__.__name__}(k={self.k}, '
                    f'out_channels={self.out_channels}, '
                    f'hidden_channels={self.hidden_channels}, '
                    f'rho_layers={self.rho_layers}, '
                    f"per_multiplicity='{self.per_multiplicity}', "
                    f"eig_tol={self.eig_tol}, preset='reference')")
        return (f'{self.__class__.__name__}(k={self.k}, '
                f'out_channels={self.out_channels}, '
                f'hidden_channels={self.hidden_channels}, '
                f'ign_channels={self.ign_channels}, '
                f'phi_out_channels={self.phi_out_channels}, '
                f'rho_layers={self.rho_layers}, '
                f"per_multiplicity='{self.per_multiplicity}', "
                f"eig_tol={self.eig_tol}, preset='pyg_ext')")


class _GroupedMLP(nn.Module):
    """``m`` independent scalar MLPs ``1 -> hidden -> ... -> 1`` applied
    element-wise, evaluated together with ``einsum``."""

    def __init__(self, m: int, hidden: int, num_layers: int) -> None:
        super().__init__()
        dims = [1] + [hidden] * (num_layers - 1) + [1]
        self.weights = nn.ParameterList([
            nn.Parameter(torch.empty(m, dims[i], dims[i + 1]))
            for i in range(num_layers)])
        self.biases = nn.ParameterList([
            nn.Parameter(torch.empty(m, dims[i + 1]))
            for i in range(num_layers)])
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for w, b in zip(self.weights, self.biases):
            bound = w.size(1) ** -0.5
            nn.init.uniform_(w, -bound, bound)
            nn.init.uniform_(b, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        # x [..., 1] -> [..., m]
        h = x.unsqueeze(-2).expand(*x.shape[:-1], self.weights[0].size(0), 1)
        n = len(self.weights)
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = torch.einsum('...mi,mio->...mo', h, w) + b
            if i < n - 1:
                h = h.relu()
        return h.squeeze(-1)


class SPE(nn.Module):
    r"""Stable and Expressive Positional Encodings from `"On the Stability of
    Expressive Positional Encodings for Graphs"
    <https://arxiv.org/abs/2310.02579>`_ (Huang et al., ICLR 2024):

    .. math::
        \mathrm{SPE}(V, \lambda) = \rho\big(V \mathrm{diag}(\phi_1(\lambda))
        V^\top, \ldots, V \mathrm{diag}(\phi_m(\lambda)) V^\top\big)

    :math:`\phi_\ell` are ``m`` element-wise MLPs on the eigenvalues (the
    official code's ``psi_list``); :math:`\rho` is a GIN over the graph whose
    node ``i`` carries row ``i`` of the ``m`` matrices (``[N_max, m]``, the
    ``N_max`` axis as independent channels), followed by a masked sum over
    that axis. The batch is handled with dense ``[B, N_max, k]`` tensors and
    one ``einsum`` (the official code loops over graphs in Python). Exactly
    invariant to sign flips and to rotations inside eigenspaces, and stable:
    the output is Lipschitz in the Laplacian when there is a gap at ``k``.

    Args:
        k (int): number of eigenpairs.
        out_channels (int): size of the node encoding.
        num_phis (int, optional): ``m``. (default: :obj:`8`)
        phi_hidden_channels (int, optional): width of each
            :math:`\phi_\ell`. (default: :obj:`16`)
        phi_layers (int, optional): depth of each :math:`\phi_\ell`.
            (default: :obj:`3`)
        hidden_channels (int, optional): width of :math:`\rho`.
            (default: :obj:`32`)
        rho_layers (int, optional): GIN layers of :math:`\rho`.
            (default: :obj:`3`)
        scale (bool, optional): multiply each graph's matrices by its node
            count :math:`n`, so entries are :math:`O(1)` instead of
            :math:`O(k/n)` (otherwise :math:`\rho` starts in its linear
            regime, where it only sees row sums, and trains poorly). A
            constant per graph: invariances and stability are unchanged.
            (default: :obj:`True` for ``'pyg_ext'``, :obj:`False` for
            ``'reference'``; passing :obj:`True` with ``'reference'`` departs
            from the reference)
        phi (str, optional): ``'mlp'`` (element-wise) or ``'deepsets'``
            (mixes a graph's eigenvalues; ``preset='reference'`` only).
            (default: :obj:`'mlp'`)
        preset (str, optional): ``'pyg_ext'`` (the above) or
            ``'reference'``. (default: :obj:`'pyg_ext'`)
        dropout (float, optional): dropout probability in ``[0, 1)`` of the
            reference :math:`\rho` MLPs (``preset='reference'`` only).
            (default: :obj:`0.0`)

    ``preset='reference'`` builds the authors' model instead, whose forward
    equals theirs for the same weights (``Graph-COM/SPE``,
    ``src/stable_expressive_pe.py:StableExpressivePE`` with ``GINPhi``, as
    ``src/model.py:construct_model`` builds it for ``zinc/trainer.py``; ZINC
    configs ``configs/zinc/SPE_gine_gin_mlp_pe37.yaml``: ``k=37,
    num_phis=16, phi_hidden_channels=16, phi_layers=3, hidden_channels=128,
    rho_layers=8``, and ``SPE_gine_gin_deepsets_pe8.yaml``: ``k=8,
    phi='deepsets', num_phis=6, phi_layers=4``): each :math:`\phi_\ell` is
    an MLP Linear-BatchNorm-ReLU (BatchNorm over all eigenvalues of the
    batch, padding included) or a DeepSets over the graph's ``k``
    eigenvalues (ReLU after every layer); no scaling by ``n``; :math:`\rho`
    a GIN with a learnable ``eps`` per layer (initialised from
    :math:`\mathcal{N}(0, 1)`), 3-layer update MLPs
    Linear-BatchNorm-ReLU-dropout (output Linear, dropout), width
    ``hidden_channels``, no norm or activation between layers, then the
    masked sum. The reference's unused ``GINPhi.mlp`` is not built. In
    training mode BatchNorm pools the ``[N, N_max]`` positions, so for
    parity leave ``max_num_nodes`` at ``None`` (or the largest graph).
    Building blocks in :mod:`pyg_ext.nn.pe._signnet_spe_ref`.

    Raises:
        TypeError / ValueError: a hyperparameter of the wrong type or
        out of range (``k``, the sizes and depths must be ints >= 1), an
        unknown ``preset`` or ``phi``, ``phi='deepsets'`` or ``dropout != 0``
        with ``preset='pyg_ext'``, ``phi_layers`` or ``rho_layers`` of 1 with
        ``preset='reference'``, ``dropout`` outside ``[0, 1)``; in
        ``forward``, invalid inputs (see the module docstring), including
        ``eigvecs`` / ``eigvals`` whose width is not ``k``.
    """

    def __init__(self, k: int, out_channels: int, num_phis: int = 8,
                 phi_hidden_channels: int = 16, phi_layers: int = 3,
                 hidden_channels: int = 32, rho_layers: int = 3,
                 scale: bool | _PresetDefault = PRESET_DEFAULT,
                 phi: str = 'mlp', preset: str = 'pyg_ext',
                 dropout: float = 0.0) -> None:
        super().__init__()
        k = check_positive_int(k, 'k')
        out_channels = check_positive_int(out_channels, 'out_channels')
        num_phis = check_positive_int(num_phis, 'num_phis')
        phi_hidden_channels = check_positive_int(phi_hidden_channels,
                                                 'phi_hidden_channels')
        phi_layers = check_positive_int(phi_layers, 'phi_layers')
        hidden_channels = check_positive_int(hidden_channels,
                                             'hidden_channels')
        rho_layers = check_positive_int(rho_layers, 'rho_layers')
        check_choice(preset, 'preset', PRESETS)
        if scale is PRESET_DEFAULT:
            scale = preset == 'pyg_ext'
        check_bool(scale, 'scale')
        check_choice(phi, 'phi', ('mlp', 'deepsets'))
        dropout = check_probability(dropout, 'dropout', allow_one=False)
        if preset == 'reference':
            for name, value in (('phi_layers', phi_layers),
                                ('rho_layers', rho_layers)):
                if value < 2:
                    raise ValueError(f"SPE: {name} must be >= 2 with "
                                     f"preset='reference', got {value}")
        elif phi != 'mlp':
            raise ValueError(f"SPE: phi={phi!r} needs preset='reference'")
        elif dropout != 0.0:
            raise ValueError("SPE: dropout is only used with "
                             f"preset='reference', got dropout={dropout}")
        self.k, self.out_channels = k, out_channels
        self.num_phis, self.phi_hidden_channels = num_phis, phi_hidden_channels
        self.phi_layers = phi_layers
        self.hidden_channels, self.rho_layers = hidden_channels, rho_layers
        self.scale = scale
        self.phi_type, self.preset, self.dropout = phi, preset, dropout
        if preset == 'reference':
            # code's psi_list (paper phi_l), one module per l
            self.phis: nn.Module = nn.ModuleList([
                SPERefMLP(1, phi_hidden_channels, 1, phi_layers)
                if phi == 'mlp' else
                SPERefDeepSets(1, phi_hidden_channels, 1, phi_layers)
                for _ in range(num_phis)])
            self.rho: nn.Module = SPERefGIN(
                num_phis, hidden_channels, out_channels, rho_layers,
                dropout=dropout)
            return
        self.phis = _GroupedMLP(num_phis, phi_hidden_channels, phi_layers)
        self.rho = GINStack(num_phis, hidden_channels, out_channels,
                            rho_layers)

    def reset_parameters(self) -> None:
        if self.preset == 'reference':
            reset_all(self)
            return
        self.phis.reset_parameters()
        self.rho.reset_parameters()

    def _phis(self, lam: Tensor) -> Tensor:
        # lam [B, k, 1] -> [B, k, m]
        if self.preset == 'reference':
            return torch.cat([f(lam) for f in self.phis], dim=-1)
        return self.phis(lam)

    def forward(self, eigvecs: Tensor, eigvals: Tensor, edge_index: Tensor,
                batch: Tensor | None = None, eig_mask: Tensor | None = None,
                max_num_nodes: int | None = None) -> Tensor:
        max_num_nodes = check_pe_inputs(self, self.k, eigvecs, eigvals,
                                        edge_index, batch, eig_mask,
                                        max_num_nodes)
        batch = default_batch(eigvecs, batch)
        B = eigvals.size(0)
        mask = default_mask(eigvals, eig_mask)
        pos, counts = graph_positions(batch, B)
        n = max_nodes(counts, max_num_nodes)
        V = to_dense(eigvecs, batch, pos, B, n)  # [B, n, k]
        Z = self._phis(eigvals.unsqueeze(-1)) * mask.unsqueeze(-1).to(V.dtype)
        if self.scale:
            Z = Z * counts.to(V.dtype).view(B, 1, 1)
        W = torch.einsum('bik,bkm,bjk->bijm', V, Z, V)  # [B, n, n, m]
        h = W[batch, pos]  # [N, n, m]
        h = self.rho(h, edge_index)  # [N, n, out]
        col = (torch.arange(n, device=V.device).unsqueeze(0)
               < counts[batch].unsqueeze(1)).to(h.dtype)  # [N, n]
        return (h * col.unsqueeze(-1)).sum(1)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(k={self.k}, '
                f'out_channels={self.out_channels}, num_phis={self.num_phis}, '
                f'phi_hidden_channels={self.phi_hidden_channels}, '
                f'phi_layers={self.phi_layers}, '
                f'hidden_channels={self.hidden_channels}, '
                f'rho_layers={self.rho_layers}, scale={self.scale}, '
                f"phi='{self.phi_type}', preset='{self.preset}', "
                f'dropout={self.dropout})')


__all__ = ['BasisNet', 'LapPE', 'SPE', 'SignNet']
