# Everything a host engine builds against: the C API library (libkvjit.so), the Python extension, the install
# rules and the CMake package. Included once from the top-level CMakeLists.txt, after the libraries exist.
#
#   find_package(kvjit REQUIRED)
#   target_link_libraries(my_engine PRIVATE kvjit::kvjit)    # C++ API (static libraries)
#   target_link_libraries(my_engine PRIVATE kvjit::kvjit_c)  # C API (libkvjit.so)
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# Installed headers live under <prefix>/include/kvjit and keep their in-tree paths ("runtime/engine.h").
set(KVJIT_INSTALL_INCLUDEDIR ${CMAKE_INSTALL_INCLUDEDIR}/kvjit)
set(KVJIT_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/kvjit)

add_subdirectory(${PROJECT_SOURCE_DIR}/runtime/capi ${PROJECT_BINARY_DIR}/runtime/capi)

# kvjit::kvjit: the C++ API as one target.
add_library(kvjit_api INTERFACE)
set_target_properties(kvjit_api PROPERTIES EXPORT_NAME kvjit)
target_link_libraries(kvjit_api INTERFACE kvjit_runtime kvjit_cache kvjit_compiler)
add_library(kvjit::kvjit ALIAS kvjit_api)
add_library(kvjit::kvjit_c ALIAS kvjit_c)

# The Python extension: always for scikit-build-core (pip install .), and in a plain build when nanobind is
# there (the CPU tests in tests/python import it from <build>/python).
set(KVJIT_BUILD_PYTHON AUTO CACHE STRING "Build the Python extension: ON, OFF or AUTO (when nanobind is found)")
if(SKBUILD OR KVJIT_BUILD_PYTHON STREQUAL "AUTO" OR KVJIT_BUILD_PYTHON)
  add_subdirectory(${PROJECT_SOURCE_DIR}/tools/python ${PROJECT_BINARY_DIR}/python-build)
endif()

# The static libraries name the source tree in their include directories; an installed package must name
# its own include directory instead. Entries under the source or build tree become BUILD_INTERFACE-only;
# the toolkit's include directory comes to consumers with CUDA::nvrtc.
set(kvjit_static_libs kvjit_templates kvjit_compiler kvjit_cache kvjit_runtime)
foreach(lib IN LISTS kvjit_static_libs)
  get_target_property(dirs ${lib} INTERFACE_INCLUDE_DIRECTORIES)
  set(fixed "")
  foreach(dir IN LISTS dirs)
    if(dir MATCHES "^\\$<")
      list(APPEND fixed "${dir}")
    else()
      list(APPEND fixed "$<BUILD_INTERFACE:${dir}>")
    endif()
  endforeach()
  list(APPEND fixed "$<INSTALL_INTERFACE:${KVJIT_INSTALL_INCLUDEDIR}>")
  list(REMOVE_DUPLICATES fixed)
  set_property(TARGET ${lib} PROPERTY INTERFACE_INCLUDE_DIRECTORIES "${fixed}")
endforeach()

# Installed programs find NVRTC where they were linked against it (the toolkit is not always in ld.so's path).
set_target_properties(kvjit kvjit_c PROPERTIES INSTALL_RPATH_USE_LINK_PATH ON)

install(TARGETS ${kvjit_static_libs} kvjit_warnings kvjit_api kvjit_c
  EXPORT kvjitTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT lib NAMELINK_COMPONENT dev)
install(TARGETS kvjit RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT bin)

foreach(dir compiler cache runtime)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${dir}/ DESTINATION ${KVJIT_INSTALL_INCLUDEDIR}/${dir} COMPONENT dev
    FILES_MATCHING PATTERN "*.h" PATTERN "capi" EXCLUDE)
endforeach()
# runtime/launch_plan.h includes the parameter struct the kernels share with the host.
install(FILES ${PROJECT_SOURCE_DIR}/templates/kvjit/params.cuh
  DESTINATION ${KVJIT_INSTALL_INCLUDEDIR}/templates/kvjit COMPONENT dev)
install(FILES ${PROJECT_SOURCE_DIR}/runtime/capi/kvjit.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev)

install(EXPORT kvjitTargets NAMESPACE kvjit:: DESTINATION ${KVJIT_INSTALL_CMAKEDIR} COMPONENT dev)
configure_package_config_file(${PROJECT_SOURCE_DIR}/tools/kvjitConfig.cmake.in
  ${PROJECT_BINARY_DIR}/kvjitConfig.cmake INSTALL_DESTINATION ${KVJIT_INSTALL_CMAKEDIR})
# Pre-1.0: a minor version may change the API, so only the same major.minor is compatible.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/kvjitConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/kvjitConfig.cmake ${PROJECT_BINARY_DIR}/kvjitConfigVersion.cmake
  DESTINATION ${KVJIT_INSTALL_CMAKEDIR} COMPONENT dev)
