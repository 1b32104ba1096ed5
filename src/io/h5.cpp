// Checked wrappers over the HDF5 C API (see h5.hpp).
#include "h5.hpp"

#include <cstring>
#include <functional>
#include <numeric>

#include "signdyn/error.hpp"

namespace signdyn::detail::h5 {
namespace {

// File and memory types per C++ type. File types are fixed little-endian standard types, so a
// file does not depend on the writer's platform; memory types are native.
template <class T>
struct Types;
template <>
struct Types<int> {
  static hid_t file() { return H5T_STD_I32LE; }
  static hid_t memory() { return H5T_NATIVE_INT; }
  static constexpr H5T_class_t kClass = H5T_INTEGER;
};
template <>
struct Types<std::int64_t> {
  static hid_t file() { return H5T_STD_I64LE; }
  static hid_t memory() { return H5T_NATIVE_INT64; }
  static constexpr H5T_class_t kClass = H5T_INTEGER;
};
template <>
struct Types<std::uint64_t> {
  static hid_t file() { return H5T_STD_U64LE; }
  static hid_t memory() { return H5T_NATIVE_UINT64; }
  static constexpr H5T_class_t kClass = H5T_INTEGER;
};
template <>
struct Types<double> {
  static hid_t file() { return H5T_IEEE_F64LE; }
  static hid_t memory() { return H5T_NATIVE_DOUBLE; }
  static constexpr H5T_class_t kClass = H5T_FLOAT;
};

const char* class_name(H5T_class_t c) {
  switch (c) {
    case H5T_INTEGER:
      return "integer";
    case H5T_FLOAT:
      return "floating point";
    case H5T_STRING:
      return "string";
    default:
      return "non-numeric";
  }
}

herr_t collect_entry(unsigned n, const H5E_error2_t* err, void* client) {
  auto& out = *static_cast<std::vector<std::string>*>(client);
  std::string text = err->desc != nullptr ? err->desc : "";
  if (text.empty()) {
    char minor[256] = {0};
    if (H5Eget_msg(err->min_num, nullptr, minor, sizeof minor) > 0) text = minor;
  }
  if (!text.empty() && (out.empty() || out.back() != text)) out.push_back(std::move(text));
  return 0;
}

// Name of the file holding `loc` (H5Fget_name), or "?" if HDF5 cannot tell.
std::string file_name(hid_t loc) {
  const ssize_t n = H5Fget_name(loc, nullptr, 0);
  if (n <= 0) return "?";
  std::string name(static_cast<std::size_t>(n) + 1, '\0');
  H5Fget_name(loc, name.data(), name.size());
  name.resize(static_cast<std::size_t>(n));
  return name;
}

// Absolute path of `loc` inside its file (H5Iget_name), with `/child` appended when given.
std::string object_path(hid_t loc, const std::string& child = {}) {
  std::string path = "?";
  const ssize_t n = H5Iget_name(loc, nullptr, 0);
  if (n > 0) {
    path.assign(static_cast<std::size_t>(n) + 1, '\0');
    H5Iget_name(loc, path.data(), path.size());
    path.resize(static_cast<std::size_t>(n));
  }
  if (child.empty()) return path;
  return path == "/" ? "/" + child : path + "/" + child;
}

// Throws IoError("cannot <verb> '<loc>/<child>' in <file>: <stack>"). The stack is read first:
// every later HDF5 API call (H5Fget_name, H5Iget_name) clears it.
[[noreturn]] void fail(hid_t loc, const std::string& verb, const std::string& child) {
  const std::string stack = error_stack();
  throw IoError("cannot " + verb + " '" + object_path(loc, child) + "' in " + file_name(loc) +
                ": " + stack);
}

// Throws IoError for a well-formed HDF5 object whose content is not what signdyn wrote.
[[noreturn]] void bad_content(hid_t loc, const std::string& child, const std::string& problem) {
  throw IoError("'" + object_path(loc, child) + "' in " + file_name(loc) + " " + problem);
}

H5Id scalar_space() {
  H5Id space(H5Screate(H5S_SCALAR), H5Sclose);
  if (!space.valid()) throw IoError("cannot create an HDF5 scalar dataspace: " + error_stack());
  return space;
}

H5Id utf8_string_type(H5T_cset_t cset = H5T_CSET_UTF8) {
  H5Id type(H5Tcopy(H5T_C_S1), H5Tclose);
  if (!type.valid() || H5Tset_size(type.get(), H5T_VARIABLE) < 0 ||
      H5Tset_cset(type.get(), cset) < 0) {
    throw IoError("cannot create an HDF5 variable-length string type: " + error_stack());
  }
  return type;
}

H5Id open_attribute(hid_t loc, const std::string& name) {
  H5Id attr(H5Aopen(loc, name.c_str(), H5P_DEFAULT), H5Aclose);
  if (!attr.valid()) fail(loc, "open attribute", name);
  return attr;
}

// Opens attribute `name`, checks that it holds one value of class `expected`, returns it and
// its file type.
std::pair<H5Id, H5Id> open_scalar_attribute(hid_t loc, const std::string& name,
                                            H5T_class_t expected) {
  H5Id attr = open_attribute(loc, name);
  H5Id type(H5Aget_type(attr.get()), H5Tclose);
  if (!type.valid()) fail(loc, "get the type of attribute", name);
  H5Id space(H5Aget_space(attr.get()), H5Sclose);
  if (!space.valid()) fail(loc, "get the dataspace of attribute", name);
  const H5T_class_t stored = H5Tget_class(type.get());
  if (stored != expected) {
    bad_content(
        loc, name,
        std::string("is a ") + class_name(stored) + " attribute, expected " + class_name(expected));
  }
  if (H5Sget_simple_extent_npoints(space.get()) != 1) {
    bad_content(loc, name, "is not a scalar attribute");
  }
  return {std::move(attr), std::move(type)};
}

H5Id open_dataset(hid_t loc, const std::string& name) {
  H5Id ds(H5Dopen2(loc, name.c_str(), H5P_DEFAULT), H5Dclose);
  if (!ds.valid()) fail(loc, "open dataset", name);
  return ds;
}

}  // namespace

void H5Id::close(const std::string& what) {
  if (id_ < 0) return;
  const herr_t status = closer_ != nullptr ? closer_(id_) : 0;
  id_ = -1;
  if (status < 0) throw IoError("cannot close " + what + ": " + error_stack());
}

void silence_errors() {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

std::string error_stack() {
  std::vector<std::string> entries;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, collect_entry, &entries);
  H5Eclear2(H5E_DEFAULT);
  if (entries.empty()) return "unknown HDF5 error";
  // The most specific entry says what went wrong (e.g. errno text), the outermost which API
  // call failed; the ones in between repeat them.
  std::string text = entries.front();
  if (entries.size() > 1) text += " <- " + entries.back();
  for (char& c : text) {
    if (c == '\n') c = ' ';
  }
  return text;
}

H5Id create_file(const std::string& path) {
  silence_errors();
  H5Id file(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
  if (!file.valid()) throw IoError("cannot create HDF5 file " + path + ": " + error_stack());
  return file;
}

H5Id open_file(const std::string& path) {
  silence_errors();
  H5Id file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!file.valid()) throw IoError("cannot open HDF5 file " + path + ": " + error_stack());
  return file;
}

bool is_hdf5(const std::string& path) {
  silence_errors();
  const htri_t r = H5Fis_hdf5(path.c_str());
  if (r < 0) throw IoError("cannot read " + path + ": " + error_stack());
  return r > 0;
}

H5Id create_group(hid_t parent, const std::string& name, bool track_order) {
  H5Id gcpl(H5Pcreate(H5P_GROUP_CREATE), H5Pclose);
  if (!gcpl.valid()) fail(parent, "create group", name);
  if (track_order &&
      H5Pset_link_creation_order(gcpl.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED) < 0) {
    fail(parent, "create group", name);
  }
  H5Id group(H5Gcreate2(parent, name.c_str(), H5P_DEFAULT, gcpl.get(), H5P_DEFAULT), H5Gclose);
  if (!group.valid()) fail(parent, "create group", name);
  return group;
}

H5Id open_group(hid_t parent, const std::string& name) {
  H5Id group(H5Gopen2(parent, name.c_str(), H5P_DEFAULT), H5Gclose);
  if (!group.valid()) fail(parent, "open group", name);
  return group;
}

bool link_exists(hid_t parent, const std::string& name) {
  const htri_t r = H5Lexists(parent, name.c_str(), H5P_DEFAULT);
  if (r < 0) fail(parent, "look up link", name);
  return r > 0;
}

std::vector<std::string> link_names(hid_t group) {
  H5G_info_t info;
  if (H5Gget_info(group, &info) < 0) fail(group, "list the members of group", "");
  H5Id gcpl(H5Gget_create_plist(group), H5Pclose);
  if (!gcpl.valid()) fail(group, "get the creation properties of group", "");
  unsigned flags = 0;
  if (H5Pget_link_creation_order(gcpl.get(), &flags) < 0) {
    fail(group, "get the link creation order of group", "");
  }
  const H5_index_t index =
      (flags & H5P_CRT_ORDER_INDEXED) != 0 ? H5_INDEX_CRT_ORDER : H5_INDEX_NAME;
  std::vector<std::string> names;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    const ssize_t n =
        H5Lget_name_by_idx(group, ".", index, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    if (n < 0) fail(group, "get a link name in group", "");
    std::string name(static_cast<std::size_t>(n) + 1, '\0');
    if (H5Lget_name_by_idx(group, ".", index, H5_ITER_INC, i, name.data(), name.size(),
                           H5P_DEFAULT) < 0) {
      fail(group, "get a link name in group", "");
    }
    name.resize(static_cast<std::size_t>(n));
    names.push_back(std::move(name));
  }
  return names;
}

bool attribute_exists(hid_t loc, const std::string& name) {
  const htri_t r = H5Aexists(loc, name.c_str());
  if (r < 0) fail(loc, "look up attribute", name);
  return r > 0;
}

void write_string_attribute(hid_t loc, const std::string& name, const std::string& value) {
  if (value.find('\0') != std::string::npos) {
    throw IoError("cannot write attribute '" + object_path(loc, name) + "' in " + file_name(loc) +
                  ": the value contains a NUL character");
  }
  H5Id type = utf8_string_type();
  H5Id space = scalar_space();
  H5Id attr(H5Acreate2(loc, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
            H5Aclose);
  if (!attr.valid()) fail(loc, "create attribute", name);
  const char* data = value.c_str();
  if (H5Awrite(attr.get(), type.get(), &data) < 0) fail(loc, "write attribute", name);
}

std::string read_string_attribute(hid_t loc, const std::string& name) {
  auto [attr, type] = open_scalar_attribute(loc, name, H5T_STRING);
  const htri_t variable = H5Tis_variable_str(type.get());
  if (variable < 0) fail(loc, "get the string type of attribute", name);
  if (variable > 0) {
    H5Id memory = utf8_string_type(H5Tget_cset(type.get()));
    char* data = nullptr;
    if (H5Aread(attr.get(), memory.get(), &data) < 0) fail(loc, "read attribute", name);
    std::string value = data != nullptr ? data : "";
    H5free_memory(data);
    return value;
  }
  const std::size_t size = H5Tget_size(type.get());
  std::string value(size, '\0');
  if (size > 0 && H5Aread(attr.get(), type.get(), value.data()) < 0) {
    fail(loc, "read attribute", name);
  }
  value.resize(std::strlen(value.c_str()));
  if (H5Tget_strpad(type.get()) == H5T_STR_SPACEPAD) {
    value.erase(value.find_last_not_of(' ') + 1);
  }
  return value;
}

template <class T>
void write_attribute(hid_t loc, const std::string& name, T value) {
  H5Id space = scalar_space();
  H5Id attr(H5Acreate2(loc, name.c_str(), Types<T>::file(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
            H5Aclose);
  if (!attr.valid()) fail(loc, "create attribute", name);
  if (H5Awrite(attr.get(), Types<T>::memory(), &value) < 0) fail(loc, "write attribute", name);
}

template <class T>
T read_attribute(hid_t loc, const std::string& name) {
  auto [attr, type] = open_scalar_attribute(loc, name, Types<T>::kClass);
  T value{};
  if (H5Aread(attr.get(), Types<T>::memory(), &value) < 0) fail(loc, "read attribute", name);
  return value;
}

template <class T>
H5Id write_dataset(hid_t loc, const std::string& name, const std::vector<hsize_t>& dims,
                   const T* data) {
  H5Id space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
  if (!space.valid()) fail(loc, "create the dataspace of dataset", name);
  H5Id ds(H5Dcreate2(loc, name.c_str(), Types<T>::file(), space.get(), H5P_DEFAULT, H5P_DEFAULT,
                     H5P_DEFAULT),
          H5Dclose);
  if (!ds.valid()) fail(loc, "create dataset", name);
  const hsize_t count =
      std::accumulate(dims.begin(), dims.end(), hsize_t{1}, std::multiplies<hsize_t>());
  // HDF5 rejects a null buffer even for zero elements, and Eigen's empty vectors have one.
  if (count > 0 &&
      H5Dwrite(ds.get(), Types<T>::memory(), H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) {
    fail(loc, "write dataset", name);
  }
  return ds;
}

std::vector<hsize_t> dataset_dims(hid_t loc, const std::string& name) {
  H5Id ds = open_dataset(loc, name);
  H5Id space(H5Dget_space(ds.get()), H5Sclose);
  if (!space.valid()) fail(loc, "get the dataspace of dataset", name);
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0) fail(loc, "get the rank of dataset", name);
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  if (rank > 0 && H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr) < 0) {
    fail(loc, "get the shape of dataset", name);
  }
  return dims;
}

template <class T>
void read_dataset(hid_t loc, const std::string& name, T* data) {
  H5Id ds = open_dataset(loc, name);
  H5Id type(H5Dget_type(ds.get()), H5Tclose);
  if (!type.valid()) fail(loc, "get the type of dataset", name);
  const H5T_class_t stored = H5Tget_class(type.get());
  if (stored != Types<T>::kClass) {
    bad_content(loc, name,
                std::string("is a ") + class_name(stored) + " dataset, expected " +
                    class_name(Types<T>::kClass));
  }
  H5Id space(H5Dget_space(ds.get()), H5Sclose);
  if (!space.valid()) fail(loc, "get the dataspace of dataset", name);
  const hssize_t count = H5Sget_simple_extent_npoints(space.get());
  if (count < 0) fail(loc, "get the size of dataset", name);
  if (count > 0 && H5Dread(ds.get(), Types<T>::memory(), H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) {
    fail(loc, "read dataset", name);
  }
}

template void write_attribute<int>(hid_t, const std::string&, int);
template void write_attribute<std::int64_t>(hid_t, const std::string&, std::int64_t);
template void write_attribute<std::uint64_t>(hid_t, const std::string&, std::uint64_t);
template void write_attribute<double>(hid_t, const std::string&, double);
template int read_attribute<int>(hid_t, const std::string&);
template std::int64_t read_attribute<std::int64_t>(hid_t, const std::string&);
template std::uint64_t read_attribute<std::uint64_t>(hid_t, const std::string&);
template double read_attribute<double>(hid_t, const std::string&);
template H5Id write_dataset<int>(hid_t, const std::string&, const std::vector<hsize_t>&,
                                 const int*);
template H5Id write_dataset<double>(hid_t, const std::string&, const std::vector<hsize_t>&,
                                    const double*);
template void read_dataset<int>(hid_t, const std::string&, int*);
template void read_dataset<double>(hid_t, const std::string&, double*);

}  // namespace signdyn::detail::h5
