# cmake -DBUILD_DIR=... -DCONSUMER_DIR=... -DWORK_DIR=... -DGENERATOR=... -P install_test.cmake
file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)

function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${ARGN}\n${out}\n${err}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

run("cmake --install" ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})

foreach(path include/kvjit.h include/kvjit/runtime/engine.h include/kvjit/compiler/nvrtc_backend.h
             include/kvjit/cache/module_cache.h include/kvjit/templates/kvjit/params.cuh
             lib/cmake/kvjit/kvjitConfig.cmake lib/cmake/kvjit/kvjitConfigVersion.cmake
             lib/cmake/kvjit/kvjitTargets.cmake lib/libkvjit.so bin/kvjit)
  if(NOT EXISTS ${prefix}/${path})
    message(FATAL_ERROR "not installed: ${path}")
  endif()
endforeach()
file(GLOB stray_capi ${prefix}/include/kvjit/runtime/capi)
if(stray_capi)
  message(FATAL_ERROR "the C header belongs in include/, not include/kvjit/runtime/capi")
endif()

# The installed CLI runs from the prefix (it finds NVRTC through its RPATH).
run("installed kvjit models" ${prefix}/bin/kvjit models)

set(cuda_args "")
if(CUDA_ROOT)
  set(cuda_args -DCUDAToolkit_ROOT=${CUDA_ROOT})
endif()
run("configure the consumer" ${CMAKE_COMMAND} -S ${CONSUMER_DIR} -B ${WORK_DIR}/consumer -G ${GENERATOR}
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON -DCMAKE_BUILD_TYPE=Release
    -DCMAKE_C_COMPILER=${C_COMPILER} -DCMAKE_CXX_COMPILER=${CXX_COMPILER} ${cuda_args})
run("build the consumer" ${CMAKE_COMMAND} --build ${WORK_DIR}/consumer)
run("the C++ consumer" ${WORK_DIR}/consumer/consumer_cpp)
message(STATUS "${last_output}")
run("the C consumer" ${WORK_DIR}/consumer/consumer_c)
message(STATUS "${last_output}")
file(REMOVE_RECURSE ${WORK_DIR})
