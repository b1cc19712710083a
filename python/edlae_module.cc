// The _edlae extension module: pybind11 bindings of python/py_api.h and
// python/py_inputs.h; absl::Status becomes a Python exception here.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "core/model.h"
#include "core/model_format.h"
#include "core/weight_rows.h"
#include "python/py_api.h"
#include "python/py_inputs.h"
#include "trainer/interactions.h"

namespace py = pybind11;

namespace edlae::python {
namespace {

// ValueError (bad input), MemoryError, OSError and its subclasses (files),
// RuntimeError for the rest; the message is the status message.
[[noreturn]] void Raise(const absl::Status& status) {
  PyObject* type = PyExc_RuntimeError;
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
      type = PyExc_ValueError;
      break;
    case absl::StatusCode::kResourceExhausted:
      type = PyExc_MemoryError;
      break;
    case absl::StatusCode::kNotFound:
      type = PyExc_FileNotFoundError;
      break;
    case absl::StatusCode::kPermissionDenied:
      type = PyExc_PermissionError;
      break;
    case absl::StatusCode::kAlreadyExists:
      type = PyExc_FileExistsError;
      break;
    case absl::StatusCode::kDataLoss:
    case absl::StatusCode::kUnavailable:
      type = PyExc_OSError;
      break;
    default:
      break;
  }
  PyErr_SetString(type, std::string(status.message()).c_str());
  throw py::error_already_set();
}

template <typename T>
T ValueOrRaise(absl::StatusOr<T> v) {
  if (!v.ok()) Raise(v.status());
  return *std::move(v);
}

void OkOrRaise(const absl::Status& s) {
  if (!s.ok()) Raise(s);
}

// An item or user id: a str, or an integer (int, numpy integers) as its
// decimal digits. TypeError for anything else (floats, bytes, None).
std::string IdOf(py::handle h, const char* what) {
  if (py::isinstance<py::str>(h)) return h.cast<std::string>();
  if (!PyBool_Check(h.ptr()) && PyIndex_Check(h.ptr())) {
    return py::str(py::reinterpret_steal<py::object>(PyNumber_Index(h.ptr())))
        .cast<std::string>();
  }
  throw py::type_error(absl::StrCat(
      what, " must be str or int, not ",
      py::str(py::type::handle_of(h).attr("__name__")).cast<std::string>()));
}

std::vector<std::string> IdsOf(py::handle seq, const char* what) {
  if (py::isinstance<py::str>(seq) || py::isinstance<py::bytes>(seq)) {
    throw py::type_error(
        absl::StrCat(what, " must be a sequence of ids, not a single string"));
  }
  std::vector<std::string> ids;
  for (py::handle h : py::iter(seq)) ids.push_back(IdOf(h, what));
  return ids;
}

std::optional<std::vector<std::string>> OptionalIds(const py::object& seq,
                                                    const char* what) {
  if (seq.is_none()) return std::nullopt;
  return IdsOf(seq, what);
}

std::vector<std::vector<std::string>> HistoriesOf(const py::object& seq) {
  if (py::isinstance<py::str>(seq)) {
    throw py::type_error("histories must be a list of histories, not a str");
  }
  std::vector<std::vector<std::string>> out;
  for (py::handle h : py::iter(seq)) {
    if (py::isinstance<py::str>(h) || PyIndex_Check(h.ptr())) {
      throw py::type_error(
          "histories must be a list of histories (each a list of item ids); "
          "for one user pass [history]");
    }
    out.push_back(IdsOf(h, "item id"));
  }
  return out;
}

// A model as Python holds it.
struct PyModel {
  std::shared_ptr<const Model> model;
  bool from_file = false;  // opened from path(), not fit in memory
};

py::list ItemsList(const Model& model, const std::vector<ScoredItem>& items) {
  py::list out;
  for (const ScoredItem& item : items) {
    out.append(py::make_tuple(py::str(std::string(model.item_id(item.index))),
                              static_cast<double>(item.score)));
  }
  return out;
}

py::dict AnswerDict(const Model& model, const Answer& a) {
  py::dict d;
  d["items"] = ItemsList(model, a.items);
  d["popularity_fallback"] = a.popularity_fallback;
  d["unknown_item_count"] = a.unknown;
  return d;
}

py::tuple Metric(const MetricSummary& m) {
  return py::make_tuple(m.mean, m.std_error, m.count);
}

QueryOptions QueryOptionsOf(size_t n, bool exclude_history,
                            const py::object& exclude,
                            const py::object& candidates, int threads) {
  QueryOptions o;
  o.top_n = n;
  o.exclude_history = exclude_history;
  if (!exclude.is_none()) o.exclude = IdsOf(exclude, "exclude");
  if (!candidates.is_none()) o.candidates = IdsOf(candidates, "candidates");
  o.threads = threads;
  return o;
}

template <typename T>
py::array_t<T> Copy(const T* data, std::vector<py::ssize_t> shape) {
  py::array_t<T> out(shape);
  std::memcpy(out.mutable_data(), data, out.nbytes());
  return out;
}

// Rows [0, num_rows) × [0, dim) of `rows` widened to float32.
py::array_t<float> Matrix(const WeightRows& rows) {
  py::array_t<float> out({static_cast<py::ssize_t>(rows.num_rows),
                          static_cast<py::ssize_t>(rows.dim)});
  float* p = out.mutable_data();
  for (size_t i = 0; i < rows.num_rows; ++i) {
    ReadRow(rows, i, rows.dim, p + i * rows.dim);
  }
  return out;
}

using Int64Array =
    py::array_t<int64_t, py::array::c_style | py::array::forcecast>;
using DoubleArray =
    py::array_t<double, py::array::c_style | py::array::forcecast>;

}  // namespace

void DefineModule(py::module_& m) {
  m.doc() =
      "edlae's C++ trainer, scorer and evaluation (use the edlae package)";

  py::class_<Interactions>(m, "Interactions",
                           "Binary users × items interactions, as the "
                           "trainer reads them")
      .def_property_readonly("num_users", &Interactions::num_users)
      .def_property_readonly("num_items", &Interactions::num_items)
      .def_property_readonly("num_interactions",
                             &Interactions::num_interactions)
      .def_readonly("item_ids", &Interactions::item_ids)
      .def_readonly("user_ids", &Interactions::user_ids)
      .def(
          "csr_arrays",
          [](const Interactions& x) {
            return py::make_tuple(
                Copy(x.row_offsets.data(),
                     {static_cast<py::ssize_t>(x.row_offsets.size())}),
                Copy(x.item_indices.data(),
                     {static_cast<py::ssize_t>(x.item_indices.size())}));
          },
          "(indptr uint64, indices uint32) of the binary matrix")
      .def("__repr__", [](const Interactions& x) {
        return absl::StrCat("<edlae.Interactions ", x.num_users(), " users × ",
                            x.num_items(), " items, ", x.num_interactions(),
                            " interactions>");
      });

  m.def(
      "interactions_from_csr",
      [](Int64Array indptr, Int64Array indices, DoubleArray data,
         size_t num_rows, size_t num_cols, const py::object& item_ids,
         const py::object& user_ids) {
        std::vector<std::string> items, users;
        if (!item_ids.is_none()) items = IdsOf(item_ids, "item_ids");
        if (!user_ids.is_none()) users = IdsOf(user_ids, "user_ids");
        for (const py::array* a : {static_cast<py::array*>(&indptr),
                                   static_cast<py::array*>(&indices),
                                   static_cast<py::array*>(&data)}) {
          if (a->ndim() != 1) throw py::value_error("CSR arrays must be 1-D");
        }
        CsrArrays csr;
        csr.indptr = {indptr.data(), static_cast<size_t>(indptr.size())};
        csr.indices = {indices.data(), static_cast<size_t>(indices.size())};
        csr.data = {data.data(), static_cast<size_t>(data.size())};
        csr.num_rows = num_rows;
        csr.num_cols = num_cols;
        absl::StatusOr<Interactions> x;
        {
          py::gil_scoped_release release;
          x = InteractionsFromCsr(csr, std::move(items), std::move(users));
        }
        return ValueOrRaise(std::move(x));
      },
      py::arg("indptr"), py::arg("indices"), py::arg("data"),
      py::arg("num_rows"), py::arg("num_cols"),
      py::arg("item_ids") = py::none(), py::arg("user_ids") = py::none());

  m.def(
      "interactions_from_histories",
      [](const py::object& histories, const py::object& item_ids,
         const py::object& user_ids) {
        std::vector<std::vector<std::string>> h = HistoriesOf(histories);
        std::optional<std::vector<std::string>> items =
            OptionalIds(item_ids, "item_ids");
        std::vector<std::string> users;
        if (!user_ids.is_none()) users = IdsOf(user_ids, "user_ids");
        absl::StatusOr<Interactions> x;
        {
          py::gil_scoped_release release;
          x = InteractionsFromHistories(h, std::move(items), std::move(users));
        }
        return ValueOrRaise(std::move(x));
      },
      py::arg("histories"), py::arg("item_ids") = py::none(),
      py::arg("user_ids") = py::none());

  m.def(
      "read_interactions",
      [](const std::string& path, const std::string& format, bool header,
         int user_col, int item_col, int rating_col,
         std::optional<double> min_rating, size_t min_item_count,
         size_t min_user_count) {
        LoadOptions load;
        char delimiter = ',';
        load.format = ValueOrRaise(ParseInputFormat(format, &delimiter));
        load.delimiter = delimiter;
        load.has_header = header;
        load.user_column = user_col;
        load.item_column = item_col;
        load.rating_column = rating_col;
        load.min_rating = min_rating;
        load.min_item_count = min_item_count;
        load.min_user_count = min_user_count;
        absl::StatusOr<Interactions> x;
        {
          py::gil_scoped_release release;
          x = LoadInteractionList(path, load);
        }
        return ValueOrRaise(std::move(x));
      },
      py::arg("path"), py::arg("format") = "auto", py::arg("header") = false,
      py::arg("user_col") = 0, py::arg("item_col") = 1,
      py::arg("rating_col") = -1, py::arg("min_rating") = py::none(),
      py::arg("min_item_count") = 0, py::arg("min_user_count") = 0);

  py::class_<FitArgs>(m, "FitArgs",
                      "edlae.fit's options (edlae-train train's defaults)")
      .def(py::init<>())
      .def_readwrite("model", &FitArgs::model)
      .def_readwrite("lam", &FitArgs::lam)
      .def_readwrite("dropout", &FitArgs::dropout)
      .def_readwrite("rank", &FitArgs::rank)
      .def_readwrite("method", &FitArgs::method)
      .def_readwrite("eigensolver", &FitArgs::eigensolver)
      .def_readwrite("epochs", &FitArgs::epochs)
      .def_readwrite("omega", &FitArgs::omega)
      .def_readwrite("seed", &FitArgs::seed)
      .def_readwrite("precision", &FitArgs::precision)
      .def_readwrite("dtype", &FitArgs::dtype)
      .def_readwrite("sparse", &FitArgs::sparse)
      .def_readwrite("density", &FitArgs::density)
      .def_readwrite("min_cooccurrence", &FitArgs::min_cooccurrence)
      .def_readwrite("factorization", &FitArgs::factorization)
      .def_readwrite("sparse_method", &FitArgs::sparse_method)
      .def_readwrite("neighborhood_factor", &FitArgs::neighborhood_factor)
      .def_readwrite("incomplete_fill", &FitArgs::incomplete_fill)
      .def_readwrite("incomplete_max_per_column",
                     &FitArgs::incomplete_max_per_column)
      .def_readwrite("memory_limit_mb", &FitArgs::memory_limit_mb)
      .def_readwrite("threads", &FitArgs::threads)
      .def_readwrite("skip_memory_check", &FitArgs::skip_memory_check)
      .def_readwrite("source", &FitArgs::source)
      .def_readwrite("verbose", &FitArgs::verbose)
      .def_readwrite("temp_dir", &FitArgs::temp_dir);

  py::class_<PyModel>(m, "Model", "A loaded or trained model (see edlae.Model)")
      .def_property_readonly(
          "kind",
          [](const PyModel& p) { return ModelKindName(p.model->kind()); })
      .def_property_readonly(
          "dtype", [](const PyModel& p) { return DTypeName(p.model->dtype()); })
      .def_property_readonly(
          "num_items", [](const PyModel& p) { return p.model->num_items(); })
      .def_property_readonly("rank",
                             [](const PyModel& p) { return p.model->rank(); })
      .def_property_readonly("nnz",
                             [](const PyModel& p) { return p.model->nnz(); })
      .def_property_readonly(
          "fingerprint",
          [](const PyModel& p) { return p.model->fingerprint(); })
      .def_property_readonly("path",
                             [](const PyModel& p) -> py::object {
                               if (!p.from_file) return py::none();
                               return py::str(p.model->path());
                             })
      .def_property_readonly(
          "file_size", [](const PyModel& p) { return p.model->file_size(); })
      .def_property_readonly(
          "item_ids",
          [](const PyModel& p) {
            py::list ids;
            for (size_t i = 0; i < p.model->num_items(); ++i) {
              ids.append(py::str(std::string(p.model->item_id(i))));
            }
            return ids;
          })
      .def_property_readonly("metadata",
                             [](const PyModel& p) {
                               py::dict d;
                               for (const auto& [k, v] : p.model->metadata()) {
                                 d[py::str(k)] = py::str(v);
                               }
                               return d;
                             })
      .def_property_readonly(
          "popularity",
          [](const PyModel& p) {
            absl::Span<const float> pop = p.model->popularity();
            return Copy(pop.data(), {static_cast<py::ssize_t>(pop.size())});
          })
      .def("index_of",
           [](const PyModel& p, py::handle id) -> py::object {
             std::optional<uint32_t> i = p.model->FindItem(IdOf(id, "item id"));
             if (!i) return py::none();
             return py::int_(*i);
           })
      .def(
          "save",
          [](const PyModel& p, const std::string& path) {
            absl::Status s;
            {
              py::gil_scoped_release release;
              s = SaveModel(*p.model, path);
            }
            OkOrRaise(s);
          },
          py::arg("path"))
      .def("dense_weights",
           [](const PyModel& p) {
             if (p.model->kind() != ModelKind::kDense) {
               throw py::value_error("not a dense model");
             }
             return Matrix(p.model->dense_rows());
           })
      .def("factors",
           [](const PyModel& p) {
             if (p.model->kind() != ModelKind::kLowRank) {
               throw py::value_error("not a low-rank model");
             }
             return py::make_tuple(Matrix(p.model->u_rows()),
                                   Matrix(p.model->v_rows()));
           })
      .def("sparse_arrays",
           [](const PyModel& p) {
             if (p.model->kind() != ModelKind::kSparse) {
               throw py::value_error("not a sparse model");
             }
             const CsrWeights w = p.model->sparse_rows();
             py::array_t<float> data(static_cast<py::ssize_t>(w.nnz));
             float* d = data.mutable_data();
             for (size_t e = 0; e < w.nnz; ++e) d[e] = w.weight(e);
             return py::make_tuple(
                 Copy(w.offsets, {static_cast<py::ssize_t>(w.num_rows + 1)}),
                 Copy(w.indices, {static_cast<py::ssize_t>(w.nnz)}), data);
           })
      .def(
          "recommend",
          [](const PyModel& p, const py::object& histories,
             const py::object& weights, size_t n, bool exclude_history,
             const py::object& exclude, const py::object& candidates,
             int threads) {
            std::vector<std::vector<std::string>> h = HistoriesOf(histories);
            std::vector<Query> queries(h.size());
            for (size_t q = 0; q < h.size(); ++q)
              queries[q].ids = std::move(h[q]);
            if (!weights.is_none()) {
              py::sequence w = weights.cast<py::sequence>();
              if (w.size() != queries.size()) {
                throw py::value_error(
                    absl::StrCat("weights holds ", w.size(), " lists for ",
                                 queries.size(), " histories"));
              }
              for (size_t q = 0; q < queries.size(); ++q) {
                if (!w[q].is_none()) {
                  try {
                    queries[q].weights = w[q].cast<std::vector<float>>();
                  } catch (const py::cast_error&) {
                    throw py::type_error(absl::StrCat(
                        "weights[", q, "] must be a list of numbers or None"));
                  }
                }
              }
            }
            QueryOptions o = QueryOptionsOf(n, exclude_history, exclude,
                                            candidates, threads);
            absl::StatusOr<std::vector<Answer>> answers;
            {
              py::gil_scoped_release release;
              answers = RecommendQueries(*p.model, queries, o);
            }
            py::list out;
            for (const Answer& a : ValueOrRaise(std::move(answers))) {
              out.append(AnswerDict(*p.model, a));
            }
            return out;
          },
          py::arg("histories"), py::arg("weights") = py::none(),
          py::arg("n") = 10, py::arg("exclude_history") = true,
          py::arg("exclude") = py::none(), py::arg("candidates") = py::none(),
          py::arg("threads") = 0)
      .def(
          "similar_items",
          [](const PyModel& p, const py::object& ids, size_t n,
             const py::object& exclude, const py::object& candidates,
             bool cosine) {
            std::vector<std::string> query = IdsOf(ids, "item id");
            QueryOptions o = QueryOptionsOf(n, true, exclude, candidates, 1);
            o.cosine = cosine;
            absl::StatusOr<Answer> answer;
            {
              py::gil_scoped_release release;
              answer = SimilarTo(*p.model, query, o);
            }
            return AnswerDict(*p.model, ValueOrRaise(std::move(answer)));
          },
          py::arg("ids"), py::arg("n") = 10, py::arg("exclude") = py::none(),
          py::arg("candidates") = py::none(), py::arg("cosine") = false);

  m.def(
      "fit",
      [](const Interactions& x, const FitArgs& args) {
        absl::StatusOr<std::shared_ptr<const Model>> model;
        {
          py::gil_scoped_release release;
          model = Fit(x, args);
        }
        return PyModel{ValueOrRaise(std::move(model)), false};
      },
      py::arg("x"), py::arg("args"));

  m.def(
      "load",
      [](const std::string& path, bool snapshot) {
        ModelOpenOptions options;
        options.snapshot = snapshot;
        absl::StatusOr<std::shared_ptr<const Model>> model;
        {
          py::gil_scoped_release release;
          model = Model::Open(path, options);
        }
        return PyModel{ValueOrRaise(std::move(model)), true};
      },
      py::arg("path"), py::arg("snapshot") = false);

  m.def(
      "evaluate_weak",
      [](const PyModel& p, const Interactions& fold_in,
         const Interactions& targets, int threads) {
        absl::StatusOr<WeakEvaluation> e;
        {
          py::gil_scoped_release release;
          e = EvaluateWeakOf(*p.model, fold_in, targets, threads);
        }
        const WeakEvaluation w = ValueOrRaise(std::move(e));
        py::dict d;
        for (const WeakMetricsAtK& at : w.result.at) {
          d[py::str(absl::StrCat("recall@", at.k))] = Metric(at.recall);
          d[py::str(absl::StrCat("ndcg@", at.k))] = Metric(at.ndcg);
        }
        d["users"] = w.result.num_users;
        d["users_with_targets"] = w.result.users_with_targets;
        d["unknown_fold_in"] = w.held_out.users.unknown_fold_in;
        d["unknown_targets"] = w.held_out.users.unknown_targets;
        d["cold_users"] = w.held_out.cold_users;
        d["targets_in_fold_in"] = w.held_out.targets_in_fold_in;
        d["seconds"] = w.result.seconds;
        return d;
      },
      py::arg("model"), py::arg("fold_in"), py::arg("targets"),
      py::arg("threads") = 0);

  m.def(
      "evaluate_split",
      [](const PyModel& p, const std::string& dir, const std::string& on,
         int threads) {
        absl::StatusOr<SplitEvaluation> e;
        {
          py::gil_scoped_release release;
          e = EvaluateSplitOf(*p.model, dir, on, threads);
        }
        const SplitEvaluation s = ValueOrRaise(std::move(e));
        py::dict d;
        d["recall@20"] = Metric(s.result.recall20);
        d["recall@50"] = Metric(s.result.recall50);
        d["ndcg@100"] = Metric(s.result.ndcg100);
        d["users"] = s.result.num_users;
        d["users_with_targets"] = s.result.users_with_targets;
        d["unknown_fold_in"] = s.users.unknown_fold_in;
        d["unknown_targets"] = s.users.unknown_targets;
        d["seconds"] = s.result.seconds;
        return d;
      },
      py::arg("model"), py::arg("split"), py::arg("on") = "test",
      py::arg("threads") = 0);
}

}  // namespace edlae::python

PYBIND11_MODULE(_edlae, m) { edlae::python::DefineModule(m); }
