"""DIET's and TED's TensorFlow models: loaded without tracing a training step, fed and called with less rework.

Loading a model: Rasa gives a TensorFlow model (DIET, TED) its variables by training it for one step
on one example, in graph mode, before loading the trained weights over them. Tracing that training
step, twice (the first call also creates the optimizer's variables), was 64 of the 70 s `Agent.load`
took, at every start of the server. Here that one step runs eagerly, which builds the same variables
without tracing anything; the weights loaded over them, and the prediction graph traced next, are
Rasa's own. A model loaded to be fine-tuned goes through Rasa's own path.

Training (`python -m bot.rasa_server train …`, sampled with py-spy): every batch of every epoch,
DIET's data generator turns each example's sparse features into coordinates with four small numpy
calls per example, 14% of the training process's time. Here a batch's coordinates are joined in
one pass; the arrays are the same, element for element.

Parsing a message (sampled in process): DIET joins the sparse features of the four featurizers side
by side with `scipy.sparse.hstack`, three times for the tokens and three for the sentence, and
scipy's general block assembly was 15% of a parse. Two COO matrices are joined here by concatenating
their coordinates, which is what that assembly ends up doing; the matrix is the same, entry for entry.
DIET (and TED) then call their prediction `tf.function`, which checks the batch against its input
signature before running the one graph it traced; here that graph is called directly
(`predict_with_traced_graph`): 1.6 of a parse's 9.5 ms.
"""
from __future__ import annotations

import weakref
from typing import Any, Dict, List, Text

import numpy as np
import scipy.sparse
from rasa.shared.constants import DIAGNOSTIC_DATA
from rasa.shared.nlu.training_data.features import Features
from rasa.utils.tensorflow.constants import LEARNING_RATE, RUN_EAGERLY
from rasa.utils.tensorflow.data_generator import RasaBatchDataGenerator, RasaDataGenerator
from rasa.utils.tensorflow.models import RasaModel
from scipy.sparse._sputils import get_index_dtype, upcast

_rasas_sparse_batch_values = RasaDataGenerator._scipy_matrix_to_values
_rasas_load_model = RasaModel.load.__func__
_rasas_predict_batch = RasaModel._rasa_predict
_rasas_combine_sparse_features = Features._combine_sparse_features
_traced_predict_steps: "weakref.WeakKeyDictionary[RasaModel, Any]" = weakref.WeakKeyDictionary()


def sparse_batch_values(array_of_sparse: Any) -> List[np.ndarray]:
    """A batch's sparse features as (example, row, column) indices, values and shape, like Rasa's."""
    if array_of_sparse.number_of_dimensions == 4:
        return _rasas_sparse_batch_values(array_of_sparse)
    matrices = [m if isinstance(m, scipy.sparse.coo_matrix) else m.tocoo() for m in array_of_sparse]
    example = np.repeat(np.arange(len(matrices), dtype=np.int64), [len(m.row) for m in matrices])
    rows = np.concatenate([m.row for m in matrices])
    columns = np.concatenate([m.col for m in matrices])
    values = np.concatenate([m.data for m in matrices])
    shape = (len(matrices), max(m.shape[0] for m in matrices), matrices[0].shape[-1])
    return [np.stack([example, rows, columns], axis=1).astype(np.int64), values.astype(np.float32),
            np.array(shape, dtype=np.int64)]


def combine_sparse_side_by_side(features: Features, additional_features: Features) -> None:
    """Rasa's `Features._combine_sparse_features` (scipy's `hstack`), for two COO matrices in one pass."""
    left, right = features.features, additional_features.features
    if not (scipy.sparse.isspmatrix_coo(left) and scipy.sparse.isspmatrix_coo(right)) \
            or left.shape[0] != right.shape[0]:
        return _rasas_combine_sparse_features(features, additional_features)
    shape = (left.shape[0], left.shape[1] + right.shape[1])
    dtype, index_dtype = upcast(left.dtype, right.dtype), get_index_dtype(maxval=max(shape))
    data = np.concatenate([left.data.astype(dtype, copy=False), right.data.astype(dtype, copy=False)])
    rows = np.concatenate([left.row, right.row]).astype(index_dtype, copy=False)
    columns = np.concatenate([left.col.astype(index_dtype, copy=False),
                              np.add(right.col, left.shape[1], dtype=index_dtype)])
    features.features = scipy.sparse.coo_matrix((data, (rows, columns)), shape=shape)
    features._cached_fingerprint = None


def load_model_built_eagerly(model_class: type, model_file_name: Text, model_data_example: Any,
                             predict_data_example: Any = None, finetune_mode: bool = False, *args: Any,
                             **kwargs: Any) -> RasaModel:
    """Rasa's `RasaModel.load`, with the one step that creates the variables run eagerly."""
    if finetune_mode:
        return _rasas_load_model(model_class, model_file_name, model_data_example, predict_data_example,
                                 finetune_mode, *args, **kwargs)
    import tensorflow as tf

    config = kwargs.get("config", {})
    model = model_class(*args, **kwargs)
    model.compile(optimizer=tf.keras.optimizers.Adam(config.get(LEARNING_RATE, 0.001)), run_eagerly=True)
    model.fit(RasaBatchDataGenerator(model_data_example, batch_size=1), verbose=False)
    model.run_eagerly, model.train_function = config.get(RUN_EAGERLY), None
    model.load_weights(model_file_name)
    if predict_data_example:
        model.run_inference(predict_data_example)  # traces the prediction graph now, not on the first message
    return model


def predict_with_traced_graph(model: RasaModel, batch_in: Any) -> Dict[Text, Any]:
    """Rasa's `RasaModel._rasa_predict`, calling the graph it traced directly once there is one.

    Rasa calls its prediction `tf.function` for every parse and every prediction, and the function
    matches the batch against its input signature, every time, before running the one graph that
    signature allows (it was traced for the first batch): 1.6 of a parse's 9.5 ms in process. Here that
    graph is taken from the function once and called with the batch's arrays as tensors.
    """
    if model._run_eagerly or model._tf_predict_step is None:
        return _rasas_predict_batch(model, batch_in)  # Rasa prepares the model and traces the graph
    import tensorflow as tf
    from keras.utils import tf_utils

    model._training = False
    graph = _traced_predict_steps.get(model)
    if graph is None:
        graph = _traced_predict_steps[model] = model._tf_predict_step.get_concrete_function()
    outputs = tf_utils.sync_to_numpy_or_python_type(graph([tf.convert_to_tensor(array) for array in batch_in]))
    if DIAGNOSTIC_DATA in outputs:
        outputs[DIAGNOSTIC_DATA] = model._empty_lists_to_none_in_dict(outputs[DIAGNOSTIC_DATA])
    return outputs


def install() -> None:
    RasaDataGenerator._scipy_matrix_to_values = staticmethod(sparse_batch_values)
    RasaModel.load = classmethod(load_model_built_eagerly)
    Features._combine_sparse_features = combine_sparse_side_by_side
    RasaModel._rasa_predict = predict_with_traced_graph
