"""Read image files as a model's input, prepared as its training data was."""
import os
import warnings

import numpy as np

from ..errors import DataFormatError, format_shape

__all__ = ["load_image"]


def _read_gray(path):
    """Pixels of an image file as float32 ``(H, W)`` in [0, 1], under Pillow's decompression-bomb
    limit (``PIL.Image.MAX_IMAGE_PIXELS``)."""
    from PIL import Image, UnidentifiedImageError
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                gray = image.convert("L")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise DataFormatError("image %s is too large to read safely (%s)" % (path, error)) \
            from error
    except UnidentifiedImageError as error:
        raise DataFormatError("%s is not an image Pillow can read (PNG, JPEG...) nor a .npy "
                              "array" % path) from error
    except OSError as error:
        raise DataFormatError("cannot read image %s: %s" % (path, error.strerror or error)) \
            from error
    return np.asarray(gray, dtype=np.float32) / np.float32(255.0)


def _fit_size(pixels, height, width, notes):
    """Pad ``pixels`` with the background (0) to the input's aspect ratio, then resize."""
    from PIL import Image
    rows, cols = pixels.shape
    if rows * width != cols * height:
        target_rows = max(rows, int(np.ceil(cols * height / float(width))))
        target_cols = max(cols, int(np.ceil(rows * width / float(height))))
        padded = np.zeros((target_rows, target_cols), dtype=np.float32)
        top, left = (target_rows - rows) // 2, (target_cols - cols) // 2
        padded[top:top + rows, left:left + cols] = pixels
        notes.append("padded from %dx%d to %dx%d with black to keep the aspect ratio"
                     % (rows, cols, target_rows, target_cols))
        pixels = padded
    if pixels.shape != (height, width):
        notes.append("resized from %s to %dx%d (the model's input)"
                     % (format_shape(pixels.shape), height, width))
        resample = getattr(Image, "Resampling", Image).LANCZOS
        image = Image.fromarray(pixels.astype(np.float32))                      # mode "F"
        pixels = np.asarray(image.resize((width, height), resample))
    return np.clip(pixels, 0.0, 1.0)


def _load_picture(path, input_shape, invert):
    channels, height, width = input_shape
    if channels != 1:
        raise DataFormatError("%s: the model takes %d-channel images (%s); give them as a .npy "
                              "array of that shape, prepared as its training data"
                              % (path, channels, format_shape(input_shape)))
    pixels = _read_gray(path)
    notes = []
    if invert:
        pixels = 1.0 - pixels
    elif pixels.mean() > 0.5:
        notes.append("mostly light: the model was trained on light digits on a dark background; "
                     "pass --invert if this one is dark on light")
    return _fit_size(pixels, height, width, notes)[None], notes


def _load_array(path, input_shape):
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except OSError as error:
        raise DataFormatError("cannot read array %s: %s" % (path, error.strerror or error)) \
            from error
    except ValueError as error:
        raise DataFormatError("%s is not a .npy array of numbers (%s)" % (path, error)) from error
    if not isinstance(array, np.ndarray):
        array.close()
        raise DataFormatError("%s is not a .npy array (an .npz archive?)" % path)
    shapes = [tuple(input_shape)] + ([tuple(input_shape[1:])] if input_shape[0] == 1 else [])
    if array.shape not in shapes:
        raise DataFormatError("array %s has shape %s; the model takes %s"
                              % (path, array.shape, " or ".join(map(str, shapes))))
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise DataFormatError("array %s holds %s values; expected numbers" % (path, array.dtype))
    image = np.array(array, dtype=np.float32).reshape(input_shape)
    if not np.isfinite(image).all():
        raise DataFormatError("array %s holds NaN or infinite values" % path)
    return image, []


def load_image(path, input_shape, invert=False):
    """Read an image file as one input of a model.

    PNG, JPEG and other files Pillow reads are converted to grayscale, scaled to [0, 1], inverted
    with ``invert`` (for dark-on-light images), padded with black to the input's aspect ratio and
    resized to its size. A ``.npy`` array (read without pickles) is taken as it is when its shape
    is the input's ``(C, H, W)``, or ``(H, W)`` for one channel.

    Parameters
    ----------
    path : str
        The file.
    input_shape : tuple of int
        The model's ``(C, H, W)``.
    invert : bool
        Replace pixel ``p`` by ``1 - p`` (not for ``.npy``).

    Returns
    -------
    image : numpy.ndarray
        float32 ``(C, H, W)``.
    notes : list of str
        What was done to fit the input (resizing, padding), or doubts about it.

    Raises
    ------
    DataFormatError
        The file is missing, unreadable, too large for Pillow's limit, or an array of another
        shape; the message names the file.
    """
    if os.path.splitext(path)[1].lower() == ".npy":
        image, notes = _load_array(path, input_shape)
        if invert:
            notes.append("--invert does not apply to .npy arrays: taken as they are")
        return image, notes
    return _load_picture(path, input_shape, invert)
