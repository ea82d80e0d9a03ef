#pragma once
#include <hdf5.h>
#include <hdf5_hl.h>
// HDF5's type, property-list and flag "constants" are macros that expand to calls such as
// (H5open(), H5T_NATIVE_FLOAT_g): Swift cannot import them, so each one is wrapped here.
static inline hid_t bp_H5T_NATIVE_FLOAT(void)   { return H5T_NATIVE_FLOAT; }
static inline hid_t bp_H5T_NATIVE_DOUBLE(void)  { return H5T_NATIVE_DOUBLE; }
static inline hid_t bp_H5T_NATIVE_INT32(void)   { return H5T_NATIVE_INT32; }
static inline hid_t bp_H5T_NATIVE_INT64(void)   { return H5T_NATIVE_INT64; }
static inline hid_t bp_H5T_NATIVE_UINT8(void)   { return H5T_NATIVE_UINT8; }
static inline hid_t bp_H5T_C_S1(void)           { return H5T_C_S1; }
static inline hid_t bp_H5P_DATASET_CREATE(void) { return H5P_DATASET_CREATE; }
static inline hid_t bp_H5P_FILE_ACCESS(void)    { return H5P_FILE_ACCESS; }
static inline hid_t bp_H5P_DEFAULT(void)        { return H5P_DEFAULT; }
static inline hid_t bp_H5S_ALL(void)            { return H5S_ALL; }
static inline hsize_t bp_H5S_UNLIMITED(void)    { return H5S_UNLIMITED; }
static inline unsigned bp_H5F_ACC_TRUNC(void)   { return H5F_ACC_TRUNC; }
static inline unsigned bp_H5F_ACC_EXCL(void)    { return H5F_ACC_EXCL; }
static inline unsigned bp_H5F_ACC_RDONLY(void)  { return H5F_ACC_RDONLY; }
static inline unsigned bp_H5F_ACC_RDWR(void)    { return H5F_ACC_RDWR; }
static inline hid_t bp_H5E_DEFAULT(void)        { return H5E_DEFAULT; }
static inline hid_t bp_H5P_LINK_CREATE(void)    { return H5P_LINK_CREATE; }
static inline size_t bp_H5T_VARIABLE(void)      { return H5T_VARIABLE; }
static inline hid_t bp_H5FD_SEC2(void)          { return H5FD_SEC2; }
static inline unsigned bp_H5F_OBJ_ALL(void)     { return H5F_OBJ_ALL; }

// H5File ends the process with _exit from an exit handler (to skip libhdf5's shutdown), which
// also skips the coverage runtime's profile dump. In an instrumented build (scripts/coverage.sh)
// the weak reference resolves to the runtime and the handler dumps first; otherwise it is null.
extern int __llvm_profile_write_file(void) __attribute__((weak));
static inline void bp_write_coverage_profile(void) { if (__llvm_profile_write_file) (void)__llvm_profile_write_file(); }
