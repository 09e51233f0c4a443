"""The course directory's codes said in words of the UI's language (courses.py keeps codes)."""
from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import pgettext

from services.referral.courses import Course, CourseKind, Eligibility, Funding, Level, Why

KINDS = {CourseKind.INTEGRATION: _l("Integration course"),
         CourseKind.JOB: _l("Job-related German course"),
         CourseKind.LITERACY: _l("Literacy course"),
         CourseKind.WOMEN: _l("Women's course"),
         CourseKind.PARENTS: _l("Parents' course"),
         CourseKind.YOUTH: _l("Youth course"),
         CourseKind.CHILDREN: _l("Children's course")}
FUNDINGS = {Funding.BAMF_INTEGRATION: _l("BAMF integration course"),
            Funding.BAMF_JOB: _l("BAMF job-related course (DeuFöV)"),
            Funding.MUNICIPAL: _l("free (city or provider)"),
            Funding.SELF_PAY: _l("self-payers")}
LEVELS = tuple(str(level) for level in Level)


def eligibility(value: Eligibility) -> str:
    return {Eligibility.ENTITLED: pgettext("course", "may join"),
            Eligibility.ON_REQUEST: pgettext("course", "on request to the BAMF"),
            Eligibility.SELF_PAY: pgettext("course", "only as a self-payer"),
            Eligibility.NONE: pgettext("course", "may not join")}[value]


def why(reason: Why, course: Course) -> str:
    """One reason a course fits, in words."""
    said = {
        Why.ENTITLED_44: _("entitled to an integration course with this residence status "
                           "(§ 44 para. 1 Residence Act)"),
        Why.ENTITLED_BVFG: _("entitled as an ethnic German resettler (§ 9 BVFG)"),
        Why.ON_REQUEST_44_4: _("admission on request, within free places (§ 44 para. 4 "
                               "Residence Act); the BAMF decides"),
        Why.ADMISSION_STOPPED: _("the BAMF admits no one on request for now (circular 02/26 "
                                 "of 9 Feb 2026): only as a self-payer, unless entitled or "
                                 "obliged"),
        Why.JOB_COURSE: _("job-related course: for people registered with the Jobcenter or "
                          "employment agency, or in work (§ 45a Residence Act)"),
        Why.JOB_COURSE_ON_REQUEST: _("job-related course: only with access to the labour "
                                     "market, on request"),
        Why.OPEN_TO_ALL: _("free course, open whatever the residence status"),
        Why.SELF_PAYER: _("course for self-payers"),
        Why.NOT_FUNDED: _("no BAMF funding with this residence status: only as a self-payer"),
        Why.STATUS_UNKNOWN: _("residence status not given: funding unclear"),
        Why.LEVEL_FITS: _("level %(level)s as asked", level=str(course.level)),
        Why.SAME_DISTRICT: _("in the person's district"),
        Why.OTHER_DISTRICT: _("in another district"),
        Why.CHILDCARE: _("with childcare"),
        Why.FREE_PLACES: _("%(n)s free places", n=course.free_places),
    }
    return said[reason]


def problem(message: str) -> str:
    """A course's or a place request's refusal (courses.py, courses_store.py) in words; a
    form's own messages as the referral forms say them."""
    from services.referral import wording

    said = {
        "a course needs a title": _("A course needs a title."),
        "a course has at least one place": _("A course has at least one place."),
        "free places are between 0 and the places":
            _("Free places lie between 0 and the number of places."),
        "a job-related course is not an integration course":
            _("A job-related course is not funded as an integration course."),
        "only job-related courses are funded under DeuFöV":
            _("Only job-related courses are funded under the DeuFöV."),
        "a course stays with its provider": _("A course stays with its provider."),
        "this course takes no one now (closed or no free places)":
            _("This course takes no one now (closed or no free places)."),
        "the course's provider is not a partner Lotse refers to":
            _("The course's provider is not a partner Lotse refers to."),
        "name the intake's reference or id": _("Give the intake's reference."),
        "no intake with this reference": _("No intake with this reference is known here."),
    }
    if message in said:
        return said[message]
    refused = wording.refused(Exception(message))
    return refused if refused != message else wording.form_message(message)


def field_errors(messages: object) -> dict[str, list[str]]:
    from services.referral import wording

    return wording.form_errors(messages)
