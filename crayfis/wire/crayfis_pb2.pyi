from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DataChunk(_message.Message):
    __slots__ = ("run_configs", "exposure_blocks", "calibration_results", "precalibration_results", "precalibration_updates")
    RUN_CONFIGS_FIELD_NUMBER: _ClassVar[int]
    EXPOSURE_BLOCKS_FIELD_NUMBER: _ClassVar[int]
    CALIBRATION_RESULTS_FIELD_NUMBER: _ClassVar[int]
    PRECALIBRATION_RESULTS_FIELD_NUMBER: _ClassVar[int]
    PRECALIBRATION_UPDATES_FIELD_NUMBER: _ClassVar[int]
    run_configs: _containers.RepeatedCompositeFieldContainer[RunConfig]
    exposure_blocks: _containers.RepeatedCompositeFieldContainer[ExposureBlock]
    calibration_results: _containers.RepeatedCompositeFieldContainer[CalibrationResult]
    precalibration_results: _containers.RepeatedCompositeFieldContainer[PreCalibrationResult]
    precalibration_updates: _containers.RepeatedCompositeFieldContainer[PreCalibrationUpdate]
    def __init__(self, run_configs: _Optional[_Iterable[_Union[RunConfig, _Mapping]]] = ..., exposure_blocks: _Optional[_Iterable[_Union[ExposureBlock, _Mapping]]] = ..., calibration_results: _Optional[_Iterable[_Union[CalibrationResult, _Mapping]]] = ..., precalibration_results: _Optional[_Iterable[_Union[PreCalibrationResult, _Mapping]]] = ..., precalibration_updates: _Optional[_Iterable[_Union[PreCalibrationUpdate, _Mapping]]] = ...) -> None: ...

class RunConfig(_message.Message):
    __slots__ = ("id_hi", "id_lo", "start_time", "crayfis_build", "hw_params", "os_params", "camera_params", "camera_id")
    ID_HI_FIELD_NUMBER: _ClassVar[int]
    ID_LO_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    CRAYFIS_BUILD_FIELD_NUMBER: _ClassVar[int]
    HW_PARAMS_FIELD_NUMBER: _ClassVar[int]
    OS_PARAMS_FIELD_NUMBER: _ClassVar[int]
    CAMERA_PARAMS_FIELD_NUMBER: _ClassVar[int]
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    id_hi: int
    id_lo: int
    start_time: int
    crayfis_build: str
    hw_params: str
    os_params: str
    camera_params: str
    camera_id: int
    def __init__(self, id_hi: _Optional[int] = ..., id_lo: _Optional[int] = ..., start_time: _Optional[int] = ..., crayfis_build: _Optional[str] = ..., hw_params: _Optional[str] = ..., os_params: _Optional[str] = ..., camera_params: _Optional[str] = ..., camera_id: _Optional[int] = ...) -> None: ...

class ExposureBlock(_message.Message):
    __slots__ = ("run_id", "start_time", "end_time", "gps_lat", "gps_lon", "daq_state", "events", "L1_thresh", "L2_thresh", "L1_processed", "L2_processed", "frames_dropped", "L1_pass", "L1_skip", "L2_pass", "L2_skip", "xbn", "aborted", "gps_altitude", "gps_accuracy", "gps_fixtime", "start_time_nano", "end_time_nano", "start_time_ntp", "end_time_ntp", "res_x", "res_y", "gps_fixtime_nano", "L1_conf", "L2_conf", "bg_avg", "battery_temp", "precal_id", "battery_end_temp", "hist", "L0_conf", "run_id_hi", "precal_id_hi", "L0_processed", "L0_pass", "L0_skip", "config", "processed", "skip", "hot_hash", "wgt_hash", "L1_prescale")
    class State(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        INIT: _ClassVar[ExposureBlock.State]
        CALIBRATION: _ClassVar[ExposureBlock.State]
        DATA: _ClassVar[ExposureBlock.State]
        PRECALIBRATION: _ClassVar[ExposureBlock.State]
    INIT: ExposureBlock.State
    CALIBRATION: ExposureBlock.State
    DATA: ExposureBlock.State
    PRECALIBRATION: ExposureBlock.State
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    GPS_LAT_FIELD_NUMBER: _ClassVar[int]
    GPS_LON_FIELD_NUMBER: _ClassVar[int]
    DAQ_STATE_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    L1_THRESH_FIELD_NUMBER: _ClassVar[int]
    L2_THRESH_FIELD_NUMBER: _ClassVar[int]
    L1_PROCESSED_FIELD_NUMBER: _ClassVar[int]
    L2_PROCESSED_FIELD_NUMBER: _ClassVar[int]
    FRAMES_DROPPED_FIELD_NUMBER: _ClassVar[int]
    L1_PASS_FIELD_NUMBER: _ClassVar[int]
    L1_SKIP_FIELD_NUMBER: _ClassVar[int]
    L2_PASS_FIELD_NUMBER: _ClassVar[int]
    L2_SKIP_FIELD_NUMBER: _ClassVar[int]
    XBN_FIELD_NUMBER: _ClassVar[int]
    ABORTED_FIELD_NUMBER: _ClassVar[int]
    GPS_ALTITUDE_FIELD_NUMBER: _ClassVar[int]
    GPS_ACCURACY_FIELD_NUMBER: _ClassVar[int]
    GPS_FIXTIME_FIELD_NUMBER: _ClassVar[int]
    START_TIME_NANO_FIELD_NUMBER: _ClassVar[int]
    END_TIME_NANO_FIELD_NUMBER: _ClassVar[int]
    START_TIME_NTP_FIELD_NUMBER: _ClassVar[int]
    END_TIME_NTP_FIELD_NUMBER: _ClassVar[int]
    RES_X_FIELD_NUMBER: _ClassVar[int]
    RES_Y_FIELD_NUMBER: _ClassVar[int]
    GPS_FIXTIME_NANO_FIELD_NUMBER: _ClassVar[int]
    L1_CONF_FIELD_NUMBER: _ClassVar[int]
    L2_CONF_FIELD_NUMBER: _ClassVar[int]
    BG_AVG_FIELD_NUMBER: _ClassVar[int]
    BATTERY_TEMP_FIELD_NUMBER: _ClassVar[int]
    PRECAL_ID_FIELD_NUMBER: _ClassVar[int]
    BATTERY_END_TEMP_FIELD_NUMBER: _ClassVar[int]
    HIST_FIELD_NUMBER: _ClassVar[int]
    L0_CONF_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_HI_FIELD_NUMBER: _ClassVar[int]
    PRECAL_ID_HI_FIELD_NUMBER: _ClassVar[int]
    L0_PROCESSED_FIELD_NUMBER: _ClassVar[int]
    L0_PASS_FIELD_NUMBER: _ClassVar[int]
    L0_SKIP_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    PROCESSED_FIELD_NUMBER: _ClassVar[int]
    PASS_FIELD_NUMBER: _ClassVar[int]
    SKIP_FIELD_NUMBER: _ClassVar[int]
    HOT_HASH_FIELD_NUMBER: _ClassVar[int]
    WGT_HASH_FIELD_NUMBER: _ClassVar[int]
    L1_PRESCALE_FIELD_NUMBER: _ClassVar[int]
    run_id: int
    start_time: int
    end_time: int
    gps_lat: float
    gps_lon: float
    daq_state: ExposureBlock.State
    events: _containers.RepeatedCompositeFieldContainer[Event]
    L1_thresh: int
    L2_thresh: int
    L1_processed: int
    L2_processed: int
    frames_dropped: int
    L1_pass: int
    L1_skip: int
    L2_pass: int
    L2_skip: int
    xbn: int
    aborted: bool
    gps_altitude: float
    gps_accuracy: float
    gps_fixtime: int
    start_time_nano: int
    end_time_nano: int
    start_time_ntp: int
    end_time_ntp: int
    res_x: int
    res_y: int
    gps_fixtime_nano: int
    L1_conf: str
    L2_conf: str
    bg_avg: float
    battery_temp: int
    precal_id: int
    battery_end_temp: int
    hist: _containers.RepeatedScalarFieldContainer[int]
    L0_conf: str
    run_id_hi: int
    precal_id_hi: int
    L0_processed: int
    L0_pass: int
    L0_skip: int
    config: _containers.RepeatedScalarFieldContainer[str]
    processed: _containers.RepeatedScalarFieldContainer[int]
    skip: _containers.RepeatedScalarFieldContainer[int]
    hot_hash: int
    wgt_hash: int
    L1_prescale: float
    def __init__(self, run_id: _Optional[int] = ..., start_time: _Optional[int] = ..., end_time: _Optional[int] = ..., gps_lat: _Optional[float] = ..., gps_lon: _Optional[float] = ..., daq_state: _Optional[_Union[ExposureBlock.State, str]] = ..., events: _Optional[_Iterable[_Union[Event, _Mapping]]] = ..., L1_thresh: _Optional[int] = ..., L2_thresh: _Optional[int] = ..., L1_processed: _Optional[int] = ..., L2_processed: _Optional[int] = ..., frames_dropped: _Optional[int] = ..., L1_pass: _Optional[int] = ..., L1_skip: _Optional[int] = ..., L2_pass: _Optional[int] = ..., L2_skip: _Optional[int] = ..., xbn: _Optional[int] = ..., aborted: _Optional[bool] = ..., gps_altitude: _Optional[float] = ..., gps_accuracy: _Optional[float] = ..., gps_fixtime: _Optional[int] = ..., start_time_nano: _Optional[int] = ..., end_time_nano: _Optional[int] = ..., start_time_ntp: _Optional[int] = ..., end_time_ntp: _Optional[int] = ..., res_x: _Optional[int] = ..., res_y: _Optional[int] = ..., gps_fixtime_nano: _Optional[int] = ..., L1_conf: _Optional[str] = ..., L2_conf: _Optional[str] = ..., bg_avg: _Optional[float] = ..., battery_temp: _Optional[int] = ..., precal_id: _Optional[int] = ..., battery_end_temp: _Optional[int] = ..., hist: _Optional[_Iterable[int]] = ..., L0_conf: _Optional[str] = ..., run_id_hi: _Optional[int] = ..., precal_id_hi: _Optional[int] = ..., L0_processed: _Optional[int] = ..., L0_pass: _Optional[int] = ..., L0_skip: _Optional[int] = ..., config: _Optional[_Iterable[str]] = ..., processed: _Optional[_Iterable[int]] = ..., skip: _Optional[_Iterable[int]] = ..., hot_hash: _Optional[int] = ..., wgt_hash: _Optional[int] = ..., L1_prescale: _Optional[float] = ..., **kwargs) -> None: ...

class Event(_message.Message):
    __slots__ = ("timestamp", "gps_lat", "gps_lon", "pixels", "avg", "std", "xbn", "orient_x", "orient_y", "orient_z", "gps_altitude", "gps_accuracy", "gps_fixtime", "timestamp_nano", "timestamp_ntp", "gps_fixtime_nano", "battery_temp", "pressure", "timestamp_target", "hist", "zero_bias", "byte_block", "exposure_time")
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    GPS_LAT_FIELD_NUMBER: _ClassVar[int]
    GPS_LON_FIELD_NUMBER: _ClassVar[int]
    PIXELS_FIELD_NUMBER: _ClassVar[int]
    AVG_FIELD_NUMBER: _ClassVar[int]
    STD_FIELD_NUMBER: _ClassVar[int]
    XBN_FIELD_NUMBER: _ClassVar[int]
    ORIENT_X_FIELD_NUMBER: _ClassVar[int]
    ORIENT_Y_FIELD_NUMBER: _ClassVar[int]
    ORIENT_Z_FIELD_NUMBER: _ClassVar[int]
    GPS_ALTITUDE_FIELD_NUMBER: _ClassVar[int]
    GPS_ACCURACY_FIELD_NUMBER: _ClassVar[int]
    GPS_FIXTIME_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_NANO_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_NTP_FIELD_NUMBER: _ClassVar[int]
    GPS_FIXTIME_NANO_FIELD_NUMBER: _ClassVar[int]
    BATTERY_TEMP_FIELD_NUMBER: _ClassVar[int]
    PRESSURE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_TARGET_FIELD_NUMBER: _ClassVar[int]
    HIST_FIELD_NUMBER: _ClassVar[int]
    ZERO_BIAS_FIELD_NUMBER: _ClassVar[int]
    BYTE_BLOCK_FIELD_NUMBER: _ClassVar[int]
    EXPOSURE_TIME_FIELD_NUMBER: _ClassVar[int]
    timestamp: int
    gps_lat: float
    gps_lon: float
    pixels: _containers.RepeatedCompositeFieldContainer[Pixel]
    avg: float
    std: float
    xbn: int
    orient_x: float
    orient_y: float
    orient_z: float
    gps_altitude: float
    gps_accuracy: float
    gps_fixtime: int
    timestamp_nano: int
    timestamp_ntp: int
    gps_fixtime_nano: int
    battery_temp: int
    pressure: float
    timestamp_target: int
    hist: _containers.RepeatedScalarFieldContainer[int]
    zero_bias: ZeroBiasSquare
    byte_block: ByteBlock
    exposure_time: int
    def __init__(self, timestamp: _Optional[int] = ..., gps_lat: _Optional[float] = ..., gps_lon: _Optional[float] = ..., pixels: _Optional[_Iterable[_Union[Pixel, _Mapping]]] = ..., avg: _Optional[float] = ..., std: _Optional[float] = ..., xbn: _Optional[int] = ..., orient_x: _Optional[float] = ..., orient_y: _Optional[float] = ..., orient_z: _Optional[float] = ..., gps_altitude: _Optional[float] = ..., gps_accuracy: _Optional[float] = ..., gps_fixtime: _Optional[int] = ..., timestamp_nano: _Optional[int] = ..., timestamp_ntp: _Optional[int] = ..., gps_fixtime_nano: _Optional[int] = ..., battery_temp: _Optional[int] = ..., pressure: _Optional[float] = ..., timestamp_target: _Optional[int] = ..., hist: _Optional[_Iterable[int]] = ..., zero_bias: _Optional[_Union[ZeroBiasSquare, _Mapping]] = ..., byte_block: _Optional[_Union[ByteBlock, _Mapping]] = ..., exposure_time: _Optional[int] = ...) -> None: ...

class Pixel(_message.Message):
    __slots__ = ("x", "y", "val", "near_max", "avg_3", "avg_5", "adjusted_val")
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    VAL_FIELD_NUMBER: _ClassVar[int]
    NEAR_MAX_FIELD_NUMBER: _ClassVar[int]
    AVG_3_FIELD_NUMBER: _ClassVar[int]
    AVG_5_FIELD_NUMBER: _ClassVar[int]
    ADJUSTED_VAL_FIELD_NUMBER: _ClassVar[int]
    x: int
    y: int
    val: int
    near_max: int
    avg_3: float
    avg_5: float
    adjusted_val: int
    def __init__(self, x: _Optional[int] = ..., y: _Optional[int] = ..., val: _Optional[int] = ..., near_max: _Optional[int] = ..., avg_3: _Optional[float] = ..., avg_5: _Optional[float] = ..., adjusted_val: _Optional[int] = ...) -> None: ...

class ByteBlock(_message.Message):
    __slots__ = ("x", "y", "val", "side_length")
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    VAL_FIELD_NUMBER: _ClassVar[int]
    SIDE_LENGTH_FIELD_NUMBER: _ClassVar[int]
    x: _containers.RepeatedScalarFieldContainer[int]
    y: _containers.RepeatedScalarFieldContainer[int]
    val: _containers.RepeatedScalarFieldContainer[int]
    side_length: int
    def __init__(self, x: _Optional[_Iterable[int]] = ..., y: _Optional[_Iterable[int]] = ..., val: _Optional[_Iterable[int]] = ..., side_length: _Optional[int] = ...) -> None: ...

class ZeroBiasSquare(_message.Message):
    __slots__ = ("x_min", "y_min", "val", "frame_number")
    X_MIN_FIELD_NUMBER: _ClassVar[int]
    Y_MIN_FIELD_NUMBER: _ClassVar[int]
    VAL_FIELD_NUMBER: _ClassVar[int]
    FRAME_NUMBER_FIELD_NUMBER: _ClassVar[int]
    x_min: int
    y_min: int
    val: _containers.RepeatedScalarFieldContainer[int]
    frame_number: int
    def __init__(self, x_min: _Optional[int] = ..., y_min: _Optional[int] = ..., val: _Optional[_Iterable[int]] = ..., frame_number: _Optional[int] = ...) -> None: ...

class CalibrationResult(_message.Message):
    __slots__ = ("run_id", "start_time", "end_time", "hist_pixel", "hist_l2pixel", "hist_maxpixel", "hist_numpixel", "run_id_hi")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    HIST_PIXEL_FIELD_NUMBER: _ClassVar[int]
    HIST_L2PIXEL_FIELD_NUMBER: _ClassVar[int]
    HIST_MAXPIXEL_FIELD_NUMBER: _ClassVar[int]
    HIST_NUMPIXEL_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_HI_FIELD_NUMBER: _ClassVar[int]
    run_id: int
    start_time: int
    end_time: int
    hist_pixel: _containers.RepeatedScalarFieldContainer[int]
    hist_l2pixel: _containers.RepeatedScalarFieldContainer[int]
    hist_maxpixel: _containers.RepeatedScalarFieldContainer[int]
    hist_numpixel: _containers.RepeatedScalarFieldContainer[int]
    run_id_hi: int
    def __init__(self, run_id: _Optional[int] = ..., start_time: _Optional[int] = ..., end_time: _Optional[int] = ..., hist_pixel: _Optional[_Iterable[int]] = ..., hist_l2pixel: _Optional[_Iterable[int]] = ..., hist_maxpixel: _Optional[_Iterable[int]] = ..., hist_numpixel: _Optional[_Iterable[int]] = ..., run_id_hi: _Optional[int] = ...) -> None: ...

class PreCalibrationResult(_message.Message):
    __slots__ = ("run_id", "start_time", "end_time", "weights", "sample_res_x", "sample_res_y", "hotcell_x", "hotcell_y", "interpolation", "battery_temp", "compressed_weights", "compressed_format", "second_hist", "hotcell", "res_x", "run_id_hi", "precal_id", "precal_id_hi", "precal_config", "res_y", "hot_hash", "wgt_hash")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RES_X_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RES_Y_FIELD_NUMBER: _ClassVar[int]
    HOTCELL_X_FIELD_NUMBER: _ClassVar[int]
    HOTCELL_Y_FIELD_NUMBER: _ClassVar[int]
    INTERPOLATION_FIELD_NUMBER: _ClassVar[int]
    BATTERY_TEMP_FIELD_NUMBER: _ClassVar[int]
    COMPRESSED_WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    COMPRESSED_FORMAT_FIELD_NUMBER: _ClassVar[int]
    SECOND_HIST_FIELD_NUMBER: _ClassVar[int]
    HOTCELL_FIELD_NUMBER: _ClassVar[int]
    RES_X_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_HI_FIELD_NUMBER: _ClassVar[int]
    PRECAL_ID_FIELD_NUMBER: _ClassVar[int]
    PRECAL_ID_HI_FIELD_NUMBER: _ClassVar[int]
    PRECAL_CONFIG_FIELD_NUMBER: _ClassVar[int]
    RES_Y_FIELD_NUMBER: _ClassVar[int]
    HOT_HASH_FIELD_NUMBER: _ClassVar[int]
    WGT_HASH_FIELD_NUMBER: _ClassVar[int]
    run_id: int
    start_time: int
    end_time: int
    weights: _containers.RepeatedScalarFieldContainer[float]
    sample_res_x: int
    sample_res_y: int
    hotcell_x: _containers.RepeatedScalarFieldContainer[int]
    hotcell_y: _containers.RepeatedScalarFieldContainer[int]
    interpolation: int
    battery_temp: int
    compressed_weights: bytes
    compressed_format: str
    second_hist: _containers.RepeatedScalarFieldContainer[int]
    hotcell: _containers.RepeatedScalarFieldContainer[int]
    res_x: int
    run_id_hi: int
    precal_id: int
    precal_id_hi: int
    precal_config: str
    res_y: int
    hot_hash: int
    wgt_hash: int
    def __init__(self, run_id: _Optional[int] = ..., start_time: _Optional[int] = ..., end_time: _Optional[int] = ..., weights: _Optional[_Iterable[float]] = ..., sample_res_x: _Optional[int] = ..., sample_res_y: _Optional[int] = ..., hotcell_x: _Optional[_Iterable[int]] = ..., hotcell_y: _Optional[_Iterable[int]] = ..., interpolation: _Optional[int] = ..., battery_temp: _Optional[int] = ..., compressed_weights: _Optional[bytes] = ..., compressed_format: _Optional[str] = ..., second_hist: _Optional[_Iterable[int]] = ..., hotcell: _Optional[_Iterable[int]] = ..., res_x: _Optional[int] = ..., run_id_hi: _Optional[int] = ..., precal_id: _Optional[int] = ..., precal_id_hi: _Optional[int] = ..., precal_config: _Optional[str] = ..., res_y: _Optional[int] = ..., hot_hash: _Optional[int] = ..., wgt_hash: _Optional[int] = ...) -> None: ...

class PreCalibrationUpdate(_message.Message):
    __slots__ = ("device_id", "camera_id", "res_x", "res_y", "weights", "hotcells", "hot_hash", "wgt_hash")
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    RES_X_FIELD_NUMBER: _ClassVar[int]
    RES_Y_FIELD_NUMBER: _ClassVar[int]
    WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    HOTCELLS_FIELD_NUMBER: _ClassVar[int]
    HOT_HASH_FIELD_NUMBER: _ClassVar[int]
    WGT_HASH_FIELD_NUMBER: _ClassVar[int]
    device_id: str
    camera_id: int
    res_x: int
    res_y: int
    weights: bytes
    hotcells: _containers.RepeatedScalarFieldContainer[int]
    hot_hash: int
    wgt_hash: int
    def __init__(self, device_id: _Optional[str] = ..., camera_id: _Optional[int] = ..., res_x: _Optional[int] = ..., res_y: _Optional[int] = ..., weights: _Optional[bytes] = ..., hotcells: _Optional[_Iterable[int]] = ..., hot_hash: _Optional[int] = ..., wgt_hash: _Optional[int] = ...) -> None: ...

class PreCalibrationUpdate2018_07(_message.Message):
    __slots__ = ("precal_id", "precal_id_hi", "camera_id", "res_x", "res_y", "weights", "hotcells")
    PRECAL_ID_FIELD_NUMBER: _ClassVar[int]
    PRECAL_ID_HI_FIELD_NUMBER: _ClassVar[int]
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    RES_X_FIELD_NUMBER: _ClassVar[int]
    RES_Y_FIELD_NUMBER: _ClassVar[int]
    WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    HOTCELLS_FIELD_NUMBER: _ClassVar[int]
    precal_id: int
    precal_id_hi: int
    camera_id: int
    res_x: int
    res_y: int
    weights: bytes
    hotcells: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, precal_id: _Optional[int] = ..., precal_id_hi: _Optional[int] = ..., camera_id: _Optional[int] = ..., res_x: _Optional[int] = ..., res_y: _Optional[int] = ..., weights: _Optional[bytes] = ..., hotcells: _Optional[_Iterable[int]] = ...) -> None: ...

class PreCalibrationUpdate2018_10(_message.Message):
    __slots__ = ("hot_hash", "wgt_hash", "camera_id", "res_x", "res_y", "weights", "hotcells")
    HOT_HASH_FIELD_NUMBER: _ClassVar[int]
    WGT_HASH_FIELD_NUMBER: _ClassVar[int]
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    RES_X_FIELD_NUMBER: _ClassVar[int]
    RES_Y_FIELD_NUMBER: _ClassVar[int]
    WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    HOTCELLS_FIELD_NUMBER: _ClassVar[int]
    hot_hash: int
    wgt_hash: int
    camera_id: int
    res_x: int
    res_y: int
    weights: bytes
    hotcells: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, hot_hash: _Optional[int] = ..., wgt_hash: _Optional[int] = ..., camera_id: _Optional[int] = ..., res_x: _Optional[int] = ..., res_y: _Optional[int] = ..., weights: _Optional[bytes] = ..., hotcells: _Optional[_Iterable[int]] = ...) -> None: ...

class CrayonMessage(_message.Message):
    __slots__ = ("payload", "run_id", "device_id", "user_id", "app_code", "remote_addr", "submit_time", "camera_id")
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    APP_CODE_FIELD_NUMBER: _ClassVar[int]
    REMOTE_ADDR_FIELD_NUMBER: _ClassVar[int]
    SUBMIT_TIME_FIELD_NUMBER: _ClassVar[int]
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    payload: bytes
    run_id: str
    device_id: str
    user_id: int
    app_code: str
    remote_addr: str
    submit_time: int
    camera_id: int
    def __init__(self, payload: _Optional[bytes] = ..., run_id: _Optional[str] = ..., device_id: _Optional[str] = ..., user_id: _Optional[int] = ..., app_code: _Optional[str] = ..., remote_addr: _Optional[str] = ..., submit_time: _Optional[int] = ..., camera_id: _Optional[int] = ...) -> None: ...
