"""Datasets: ``InMemoryDataset`` classes and a registry of named datasets."""

from pyg_ext.datasets.heterophily import PlatonovHeterophilyDataset
from pyg_ext.datasets.registry import (
    DatasetSpec,
    UnknownDatasetError,
    card_path,
    dataset_present,
    get_dataset,
    get_spec,
    list_datasets,
    register_dataset,
)

__all__ = [
    'DatasetSpec',
    'PlatonovHeterophilyDataset',
    'UnknownDatasetError',
    'card_path',
    'dataset_present',
    'get_dataset',
    'get_spec',
    'list_datasets',
    'register_dataset',
]
