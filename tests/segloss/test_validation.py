import pytest
import torch

from segloss._validation import check_labels, check_logits, check_number, check_target_shape, reduce, zero_with_graph


def test_check_logits_messages():
    with pytest.raises(TypeError, match="`pred` must be a torch.Tensor; got list"):
        check_logits([1.0])
    with pytest.raises(TypeError, match="floating-point tensor.*torch.int64"):
        check_logits(torch.zeros(1, 2, 3, 3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\); got shape \(2, 3\)"):
        check_logits(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="must not be empty"):
        check_logits(torch.zeros(0, 2, 3, 3))


def test_check_labels_and_shape():
    t = torch.tensor([[0, 1], [2, 255]])
    check_labels(t, 3, ignore_index=255)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\).*\[255\]"):
        check_labels(t, 3)
    with pytest.raises(TypeError, match="integer tensor of class ids; got dtype torch.float32"):
        check_labels(t.float(), 3)
    with pytest.raises(ValueError, match=r"shape \(2, 4, 4\) matching `pred` \(2, 3, 4, 4\); got \(2, 1, 4, 4\)"):
        check_target_shape(torch.zeros(2, 1, 4, 4), (2, 4, 4), ref_shape=(2, 3, 4, 4))


def test_check_number_and_reduce():
    with pytest.raises(ValueError, match="`theta` must be > 0; got 0"):
        check_number(0, "theta", low=0, low_inclusive=False)
    with pytest.raises(TypeError, match="`theta` must be a number; got str '"):
        check_number("1", "theta")
    x = torch.tensor([1.0, 3.0])
    assert reduce(x, "mean") == 2 and reduce(x, "sum") == 4 and reduce(x, "none").shape == (2,)


def test_zero_with_graph_backprops():
    p = torch.randn(2, 3, requires_grad=True, dtype=torch.float16)
    z = zero_with_graph(p)
    z.backward()
    assert z.ndim == 0 and z.dtype == torch.float32 and torch.all(p.grad == 0)


def test_a_one_hot_target_is_told_to_use_class_ids():
    # a one-hot (N, C, H, W) target (common in ported scripts) got a bare shape error; the message now says what to do
    from segloss import active_boundary_loss, fkl_loss, lovasz_softmax_loss, partial_cross_entropy

    x = torch.randn(2, 3, 6, 6)
    onehot = torch.nn.functional.one_hot(torch.randint(0, 3, (2, 6, 6)), 3).permute(0, 3, 1, 2)
    for fn in (active_boundary_loss, fkl_loss, lovasz_softmax_loss, partial_cross_entropy):
        with pytest.raises(ValueError, match=r"not one channel per class: use `target.argmax\(1\)`"):
            fn(x, onehot)


def test_a_bool_or_float_mask_as_class_ids_is_told_to_convert():
    # binary scripts pass bool / 0-1 float masks; the TypeError now says how to convert them
    from segloss import fkl_loss

    mask = torch.rand(2, 6, 6) > 0.5
    for target in (mask, mask.float()):
        with pytest.raises(TypeError, match=r"got dtype torch\.\w+ \(a 0/1 or bool mask converts with `.long\(\)`\)"):
            fkl_loss(torch.randn(2, 1, 6, 6), target, mode="binary")
    assert fkl_loss(torch.randn(2, 1, 6, 6), mask.long(), mode="binary").isfinite()


def test_an_ignore_index_outside_the_target_dtype_matches_nothing():
    # torch compares a uint8 tensor with -1 as with 255 (and an int8 one with 255 as with -1): ignore_index=-1
    # silently ignored every 255 of a uint8 target, where the label check should have refused it
    from segloss import abl_distance_map, cas_loss, partial_cross_entropy, soft_jaccard_loss
    from segloss._validation import valid_labels

    u8 = torch.tensor([[[0, 255], [1, 2]]], dtype=torch.uint8)
    assert valid_labels(u8, -1).all() and not valid_labels(u8, 255)[0, 0, 1]
    assert valid_labels(u8.to(torch.int8), 255).all()
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\) or ignore_index=-1; got out-of-range values"):
        check_labels(u8, 3, ignore_index=-1)
    with pytest.raises(ValueError, match=r"`seeds` labels must be in \[0, 3\) or ignore_index=-1"):
        partial_cross_entropy(torch.randn(1, 3, 2, 2), u8, ignore_index=-1)
    mask = torch.tensor([[[0, 255], [1, 1]]], dtype=torch.uint8)
    with pytest.raises(ValueError, match=r"`target` must hold values in \[0, 1\]"):
        soft_jaccard_loss(torch.randn(1, 1, 2, 2), mask, ignore_index=-1)
    x = torch.randn(1, 3, 2, 2, dtype=torch.float64)
    torch.testing.assert_close(cas_loss(x, u8, ignore_index=-1), cas_loss(x, u8.long(), ignore_index=-1))
    torch.testing.assert_close(abl_distance_map(u8, ignore_index=-1), abl_distance_map(u8.long(), ignore_index=-1))


def test_set_value_checks_returns_the_previous_setting_and_refuses_a_non_bool():
    # It returned None, so a loop that turns the checks off after its first batch had to read a private module to
    # restore the user's setting; and bool(enabled) took "False" as True.
    import segloss

    assert segloss.set_value_checks(False) is True
    try:
        assert segloss.set_value_checks(False) is False
        for bad in ("False", 0, None):
            with pytest.raises(TypeError, match=r"`enabled` must be a bool \(True or False\); got"):
                segloss.set_value_checks(bad)
    finally:
        assert segloss.set_value_checks(True) is False
