"""The genome layout: one flat vector, named blocks."""
import numpy as np
import pytest

from metods_sim.agents.layout import Layout

LAYOUT = Layout((("f.weight", (3, 4)), ("f.bias", (3,)), ("alpha", (2, 2))))


def test_pack_and_unpack_are_inverse(rng):
    genomes = rng.normal(size=(5, LAYOUT.size))
    assert np.array_equal(LAYOUT.pack(LAYOUT.unpack(genomes)), genomes)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("members", [1, 7])
def test_contiguous_blocks_are_the_unpacked_views_cast(rng, dtype, members):
    genomes = rng.normal(size=(members, LAYOUT.size))
    views, blocks = LAYOUT.unpack(genomes), LAYOUT.contiguous(genomes, dtype)
    for name, view in views.items():
        assert blocks[name].flags.c_contiguous and blocks[name].dtype == dtype
        assert np.array_equal(blocks[name], view.astype(dtype))


def test_contiguous_takes_one_genome_and_refuses_a_wrong_length(rng):
    assert LAYOUT.contiguous(np.arange(LAYOUT.size), np.float64)["alpha"].shape == (1, 2, 2)
    with pytest.raises(ValueError, match="layout expects 19"):
        LAYOUT.contiguous(np.zeros(18), np.float64)
