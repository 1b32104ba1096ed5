// src/io/h5.hpp: RAII ids and one checked wrapper per HDF5 C call (HighFive's pattern).
// Private to signdyn_io. Every wrapper turns a failed call into IoError naming the object, the
// file and the HDF5 error stack, e.g. "cannot create group '/runs/sgd_mc' in out.h5.tmp: ...".
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <string>
#include <vector>

namespace signdyn::detail::h5 {

/// Move-only owner of one hid_t; closes it with the matching H5?close on destruction.
class H5Id {
 public:
  using Closer = herr_t (*)(hid_t);

  H5Id() = default;
  H5Id(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  H5Id(const H5Id&) = delete;
  H5Id& operator=(const H5Id&) = delete;
  H5Id(H5Id&& other) noexcept : id_(other.id_), closer_(other.closer_) { other.id_ = -1; }
  H5Id& operator=(H5Id&& other) noexcept {
    if (this != &other) {
      reset();
      id_ = other.id_;
      closer_ = other.closer_;
      other.id_ = -1;
    }
    return *this;
  }
  ~H5Id() { reset(); }

  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }

  /// Closes the id now and throws IoError if HDF5 reports a failure (a file close flushes,
  /// so this is where a full disk shows up). `what` names the object in the message.
  void close(const std::string& what);

 private:
  void reset() noexcept {
    if (id_ >= 0 && closer_ != nullptr) closer_(id_);
    id_ = -1;
  }
  hid_t id_ = -1;
  Closer closer_ = nullptr;
};

/// Turns off HDF5's automatic printing of error stacks for the calling thread (the messages
/// go into our exceptions instead). Called at every entry point of signdyn_io.
void silence_errors();

/// Text of the calling thread's current HDF5 error stack, most specific entry first.
std::string error_stack();

/// Creates (truncating) an HDF5 file for writing.
H5Id create_file(const std::string& path);
/// Opens an existing HDF5 file read-only.
H5Id open_file(const std::string& path);
/// True if `path` starts with the HDF5 signature (H5Fis_hdf5); false for other files.
bool is_hdf5(const std::string& path);

/// Creates group `name` under `parent`; with track_order, links are indexed by creation order.
H5Id create_group(hid_t parent, const std::string& name, bool track_order = false);
/// Opens the existing group `name` under `parent`.
H5Id open_group(hid_t parent, const std::string& name);
/// True if a link `name` exists directly under `parent`.
bool link_exists(hid_t parent, const std::string& name);
/// Names of the links under `group`, in creation order when the group tracks it, else by name.
std::vector<std::string> link_names(hid_t group);

/// True if `loc` carries attribute `name`.
bool attribute_exists(hid_t loc, const std::string& name);

/// Writes a scalar attribute holding a variable-length UTF-8 string (h5py reads it as str).
void write_string_attribute(hid_t loc, const std::string& name, const std::string& value);
/// Reads a scalar string attribute (variable- or fixed-length).
std::string read_string_attribute(hid_t loc, const std::string& name);

/// Scalar numeric attributes; the file type is the native type of T.
template <class T>
void write_attribute(hid_t loc, const std::string& name, T value);
/// Reads a scalar numeric attribute, converting from the stored numeric type to T.
template <class T>
T read_attribute(hid_t loc, const std::string& name);

/// Writes a contiguous row-major dataset of shape `dims` (rank 1 or 2) from `data`; returns it
/// open, so that attributes can be attached.
template <class T>
H5Id write_dataset(hid_t loc, const std::string& name, const std::vector<hsize_t>& dims,
                   const T* data);
/// Shape of dataset `name` under `loc`.
std::vector<hsize_t> dataset_dims(hid_t loc, const std::string& name);
/// Reads dataset `name` (row-major) into `data`, which must hold the product of its dims.
template <class T>
void read_dataset(hid_t loc, const std::string& name, T* data);

extern template void write_attribute<int>(hid_t, const std::string&, int);
extern template void write_attribute<std::int64_t>(hid_t, const std::string&, std::int64_t);
extern template void write_attribute<std::uint64_t>(hid_t, const std::string&, std::uint64_t);
extern template void write_attribute<double>(hid_t, const std::string&, double);
extern template int read_attribute<int>(hid_t, const std::string&);
extern template std::int64_t read_attribute<std::int64_t>(hid_t, const std::string&);
extern template std::uint64_t read_attribute<std::uint64_t>(hid_t, const std::string&);
extern template double read_attribute<double>(hid_t, const std::string&);
extern template H5Id write_dataset<int>(hid_t, const std::string&, const std::vector<hsize_t>&,
                                        const int*);
extern template H5Id write_dataset<double>(hid_t, const std::string&, const std::vector<hsize_t>&,
                                           const double*);
extern template void read_dataset<int>(hid_t, const std::string&, int*);
extern template void read_dataset<double>(hid_t, const std::string&, double*);

}  // namespace signdyn::detail::h5
