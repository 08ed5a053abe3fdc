"""Spacetime patches and packing: exact inverses, ragged shapes, and masks that never cross videos."""

from __future__ import annotations

import pytest
import torch

from readingroom.video.patch import attention_mask, pack, patchify, unpack, unpatchify

RAGGED = [(4, 5, 8, 8), (4, 3, 6, 10), (4, 1, 8, 8), (4, 7, 2, 14)]


@pytest.mark.parametrize("patch", [(1, 2, 2), (1, 1, 1), (1, 2, 1)])
def test_patchify_unpatchify_are_exact_inverses(patch):
    z = torch.randn(4, 5, 8, 6)
    tokens, coords = patchify(z, patch)
    grid = (5 // patch[0], 8 // patch[1], 6 // patch[2])
    assert tokens.shape == (grid[0] * grid[1] * grid[2], 4 * patch[0] * patch[1] * patch[2])
    assert torch.equal(unpatchify(tokens, grid, patch, 4), z)
    # the coordinates are the patch grid in raster order
    assert coords[0].tolist() == [0, 0, 0] and coords[-1].tolist() == [g - 1 for g in grid]


def test_a_token_is_one_box_of_the_latent():
    z = torch.arange(2 * 2 * 4 * 4, dtype=torch.float).reshape(2, 2, 4, 4)
    tokens, coords = patchify(z, (1, 2, 2))
    i = [k for k, c in enumerate(coords.tolist()) if c == [1, 0, 1]][0]
    assert torch.equal(tokens[i].reshape(2, 2, 2), z[:, 1, 0:2, 2:4])


def test_pack_unpack_roundtrip_on_ragged_shapes():
    torch.manual_seed(0)
    zs = [torch.randn(*s) for s in RAGGED]
    packed = pack(zs, (1, 2, 2))
    assert packed.tokens.shape[0] == sum(packed.lengths())
    assert packed.video.tolist() == sum(([i] * n for i, n in enumerate(packed.lengths())), [])
    for a, b in zip(zs, unpack(packed)):
        assert torch.equal(a, b)


def test_masks_stay_inside_a_video_and_follow_their_axis():
    packed = pack([torch.randn(1, 3, 4, 4), torch.randn(1, 2, 2, 6)], (1, 2, 2))
    v, c = packed.video, packed.coords
    same_video = v[:, None] == v[None, :]
    full = attention_mask(v, c, "full")
    spatial = attention_mask(v, c, "spatial")
    temporal = attention_mask(v, c, "temporal")
    assert torch.equal(full, same_video)
    assert not (spatial & ~same_video).any() and not (temporal & ~same_video).any()
    i, j = torch.nonzero(spatial, as_tuple=True)
    assert torch.equal(c[i, 0], c[j, 0])
    i, j = torch.nonzero(temporal, as_tuple=True)
    assert torch.equal(c[i, 1:], c[j, 1:])
    # spatial and temporal together reach exactly the pairs that share a frame or a place
    assert int(spatial.sum()) == 3 * 4 * 4 + 2 * 3 * 3 and int(temporal.sum()) == 4 * 9 + 3 * 4


def test_padding_attends_only_to_itself_and_is_never_attended():
    video = torch.tensor([0, 0, -1, 1])
    coords = torch.zeros(4, 3, dtype=torch.long)
    mask = attention_mask(video, coords, "full")
    assert mask[2].tolist() == [False, False, True, False]
    assert mask[:, 2].tolist() == [False, False, True, False]
