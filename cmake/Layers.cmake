# The layers, bottom to top. A layer's library may link only to the layers below it: flopcast_check_layers() fails
# the configuration when one links upward, so the direction is checked by the build, not kept by convention. Since
# each layer's headers reach a target only through its link line, no source can include a header from above either.
set(FLOPCAST_LAYERS
    flopcast_core flopcast_hardware flopcast_models flopcast_sim flopcast_scenarios flopcast_studies
    flopcast_reports flopcast_report_charts flopcast_gui)

function(flopcast_check_layers)
  foreach(target IN LISTS FLOPCAST_LAYERS)
    if(NOT TARGET ${target})
      message(FATAL_ERROR "Layer ${target} is listed in cmake/Layers.cmake but no CMakeLists.txt defines it")
    endif()
    list(FIND FLOPCAST_LAYERS ${target} level)
    get_target_property(direct ${target} LINK_LIBRARIES)
    get_target_property(interface ${target} INTERFACE_LINK_LIBRARIES)
    foreach(used IN LISTS direct interface)
      list(FIND FLOPCAST_LAYERS "${used}" used_level)
      if(used_level GREATER_EQUAL level)
        list(JOIN FLOPCAST_LAYERS " < " order)
        message(FATAL_ERROR "${target} links ${used}: a layer may use only the layers below it "
                            "(cmake/Layers.cmake, bottom to top: ${order})")
      endif()
    endforeach()
  endforeach()
endfunction()
